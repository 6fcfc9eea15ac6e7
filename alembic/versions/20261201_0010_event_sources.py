"""event sources: what made each payment event happen

- ``payment_events.source``: payer, provider, operator, reconciliation, cash_confirmation or expiry
  (``shared.contracts.EventSource``), written with the event; NULL for the events recorded before.

"""

import sqlalchemy as sa

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"

# Frozen copy of the vocabulary as of this revision.
_SOURCES = ("payer", "provider", "operator", "reconciliation", "cash_confirmation", "expiry")


def upgrade() -> None:
    op.add_column("payment_events", sa.Column("source", sa.String(length=32), nullable=True))
    quoted = ", ".join(f"'{s}'" for s in _SOURCES)
    op.create_check_constraint(
        op.f("ck_payment_events_source"), "payment_events", f"source IS NULL OR source IN ({quoted})"
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_payment_events_source"), "payment_events", type_="check")
    op.drop_column("payment_events", "source")
