"""the dispatcher's queue tables are vacuumed after 1 % of their rows changed, not 20 %

``payment_events`` (the outbox: every event is marked fanned out once) and ``webhook_deliveries``
(every delivery is claimed, then recorded) turn over their hot rows constantly, and the dispatcher's
scans of the unfanned events and of the pending head walk the index entries of the rows it just moved
on until vacuum removes them. With the default scale factor (20 % of the table) a table that keeps its
history waits longer and longer between vacuums as it grows; 1 % plus 1,000 rows keeps the wait short.
"""

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"

_TABLES = ("payment_events", "webhook_deliveries")
_OPTIONS = (
    "autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000,"
    " autovacuum_analyze_scale_factor = 0.02"
)


def upgrade() -> None:
    for table in _TABLES:
        op.execute(f"ALTER TABLE {table} SET ({_OPTIONS})")


def downgrade() -> None:
    for table in _TABLES:
        op.execute(
            f"ALTER TABLE {table} RESET (autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold,"
            " autovacuum_analyze_scale_factor)"
        )
