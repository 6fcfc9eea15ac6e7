"""delivery rollups: attempts per partner per minute, kept by the dispatcher's outcome recorder

- ``delivery_rollups``: per (partner, minute) the attempts, how many answered 2xx, a cumulative latency
  histogram (``latency_le``, bounds in ``shared.models.LATENCY_BOUNDS_MS``), the slowest attempt and
  the last failure. The partners' 24 h health and the deliveries-per-minute chart read it instead of
  ``delivery_attempts``. Filled here from the attempts already recorded.

"""

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"

# Frozen copy of the histogram's bounds as of this revision.
_BOUNDS_MS = (10, 25, 50, 100, 150, 250, 400, 600, 1000, 1500, 2500, 4000, 6000, 10000, 15000, 30000)


def upgrade() -> None:
    op.create_table(
        "delivery_rollups",
        sa.Column("partner_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("minute", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("succeeded", sa.Integer(), nullable=False),
        sa.Column("latency_le", postgresql.ARRAY(sa.Integer()), nullable=False),
        sa.Column("max_ms", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_failure", sa.String(length=1000), nullable=True),
        sa.CheckConstraint("succeeded >= 0 AND succeeded <= attempts", name="succeeded"),
        sa.CheckConstraint(f"cardinality(latency_le) = {len(_BOUNDS_MS)}", name="latency_le"),
        sa.PrimaryKeyConstraint("partner_id", "minute", name="pk_delivery_rollups"),
    )
    op.create_index("ix_delivery_rollups_minute", "delivery_rollups", ["minute"])
    histogram = ", ".join(f"count(*) FILTER (WHERE a.duration_ms <= {b})" for b in _BOUNDS_MS)
    failed = "NOT (a.status_code BETWEEN 200 AND 299) OR a.status_code IS NULL"
    op.execute(
        f"""
        INSERT INTO delivery_rollups
            (partner_id, minute, attempts, succeeded, latency_le, max_ms, last_failure_at, last_failure)
        SELECT d.partner_id, date_trunc('minute', a.started_at), count(*),
               count(*) FILTER (WHERE a.status_code BETWEEN 200 AND 299),
               ARRAY[{histogram}]::int[], max(a.duration_ms),
               max(a.started_at) FILTER (WHERE {failed}),
               (array_agg(coalesce(a.error, 'HTTP ' || a.status_code) ORDER BY a.started_at DESC)
                    FILTER (WHERE {failed}))[1]
        FROM delivery_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id
        GROUP BY 1, 2
        """  # noqa: S608 (this module's constants)
    )


def downgrade() -> None:
    op.drop_index("ix_delivery_rollups_minute", table_name="delivery_rollups")
    op.drop_table("delivery_rollups")
