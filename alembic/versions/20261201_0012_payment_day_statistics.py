"""payments' daily statistics: extended statistics for the console overview's per-day aggregate

- ``st_payments_day_provider_status_currency``: ndistinct statistics over (the UTC day of
  ``created_at``, provider, status, currency), so the planner knows the overview's GROUP BY yields a
  handful of groups and hashes them (in parallel) instead of sorting every payment of the period; no
  cost on writes (ANALYZE keeps it).

"""

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"

_NAME = "st_payments_day_provider_status_currency"


def upgrade() -> None:
    op.execute(
        f"CREATE STATISTICS {_NAME} (ndistinct) ON (CAST(timezone('UTC', created_at) AS date)), provider, status,"
        " currency FROM payments"
    )
    op.execute("ANALYZE payments")


def downgrade() -> None:
    op.execute(f"DROP STATISTICS {_NAME}")
