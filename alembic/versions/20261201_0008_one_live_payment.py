"""payment_ms keeps at most one live payment per reservation; reservations know their payment's age

- ``uq_payments_live_reservation_id``: a partial unique index on ``payments (reservation_id)`` over the
  live statuses (pending, processing, authorized). payment_ms's create statement fails on it when the
  reservation already has a live payment (409), so the gateway no longer claims the reservation in a
  durable write of its own before calling payment_ms.
- ``reservations.payment_created_at``: the ``created_at`` of the reservation's current payment. The
  gateway's reservation state is derived and written with asynchronous commit; a lost write is rebuilt
  from the next event or read, which adopts a payment only if it is newer than the one recorded (a late
  event of an older payment never takes a reservation back). Backfilled from ``payments``.

Creating the index fails if a reservation already has two live payments: cancel one first.
"""

import sqlalchemy as sa

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"

# Frozen copy as of this revision (shared/models.py may grow later ones).
_LIVE = "status IN ('pending', 'processing', 'authorized')"


def upgrade() -> None:
    op.create_index(
        "uq_payments_live_reservation_id",
        "payments",
        ["reservation_id"],
        unique=True,
        postgresql_where=sa.text(_LIVE),
    )
    op.add_column("reservations", sa.Column("payment_created_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE reservations AS r SET payment_created_at = p.created_at FROM payments AS p WHERE p.id = r.payment_id"
    )


def downgrade() -> None:
    op.drop_column("reservations", "payment_created_at")
    op.drop_index("uq_payments_live_reservation_id", table_name="payments")
