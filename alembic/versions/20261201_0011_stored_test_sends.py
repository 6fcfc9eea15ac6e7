"""stored test sends: a test event becomes a delivery the partner can read

- ``payment_events.payment_id`` may be NULL: a test send's example event belongs to no payment (it is
  written fanned out, and kept out of the event lists and the pull feed).
- ``webhook_deliveries.test``: the test send's delivery, written finished (succeeded or failed) with
  its one attempt; the dispatcher never sends it and a replay refuses it.

"""

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.elements import conv

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"

# The full name, as it is (not put through the naming convention again).
_TEST_FINISHED = conv("ck_webhook_deliveries_test_finished")


def upgrade() -> None:
    op.alter_column(
        "payment_events", "payment_id", existing_type=postgresql.UUID(as_uuid=True), nullable=True
    )
    op.add_column(
        "webhook_deliveries", sa.Column("test", sa.Boolean(), server_default=sa.text("false"), nullable=False)
    )
    op.create_check_constraint(
        _TEST_FINISHED,
        "webhook_deliveries",
        "NOT test OR status IN ('succeeded', 'failed')",
    )


def downgrade() -> None:
    op.drop_constraint(_TEST_FINISHED, "webhook_deliveries", type_="check")
    op.drop_column("webhook_deliveries", "test")
    op.execute("DELETE FROM payment_events WHERE payment_id IS NULL")
    op.alter_column(
        "payment_events", "payment_id", existing_type=postgresql.UUID(as_uuid=True), nullable=False
    )
