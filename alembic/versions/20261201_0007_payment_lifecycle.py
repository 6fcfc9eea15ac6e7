"""the whole payment lifecycle: provider events, escrow, refund states, disputes, per-command keys

- ``provider_events`` replaces ``stripe_events``: one dedupe table for every provider's events (Stripe's
  webhooks and the mock provider's own), keyed by (provider, event id); Stripe's rows are kept.
- event types ``payment.refund_pending``, ``payment.refund_failed``, ``payment.disputed`` and
  ``payment.dispute_closed`` are allowed in the outbox and in partners' subscriptions.
- ``payments``: ``authorized_at`` (when a manual-capture hold was placed; reconciliation releases it
  after its window), ``pending_refund_amount`` (refunds the provider has not finished), the dispute
  (``dispute_id``, ``dispute_status``, ``dispute_amount``, ``dispute_reason``).
- ``refunds``: ``status`` (pending, succeeded, failed; existing rows were done: succeeded),
  ``failure_reason``, ``updated_at``, and one row per provider refund id.
- ``payment_commands``: each operator command and the idempotency key it uses at the provider.
- ``reservations.capture_method``: set by the admin who creates the reservation (NULL: the checkout
  chooses).
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"

# Frozen copies of the vocabularies as of this revision (shared/contracts.py may grow later ones).
_OLD_EVENTS = tuple(
    f"payment.{name}"
    for name in (
        "created",
        "processing",
        "authorized",
        "captured",
        "succeeded",
        "failed",
        "canceled",
        "refunded",
    )
)
# The old ones with the refund and dispute events, in the catalog's order (refunded stays after pending).
_NEW_EVENTS = (
    *_OLD_EVENTS[:7],
    "payment.refund_pending",
    "payment.refunded",
    *(f"payment.{name}" for name in ("refund_failed", "disputed", "dispute_closed")),
)
_DISPUTE_STATUSES = (
    *(f"warning_{name}" for name in ("needs_response", "under_review", "closed")),
    "needs_response",
    "under_review",
    "won",
    "lost",
    "prevented",
)


def _quoted(values: Sequence[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def _event_checks(events: Sequence[str]) -> None:
    op.drop_constraint(op.f("ck_payment_events_type"), "payment_events", type_="check")
    op.create_check_constraint(
        op.f("ck_payment_events_type"), "payment_events", f"type IN ({_quoted(events)})"
    )
    op.drop_constraint(op.f("ck_partners_event_types_known"), "partners", type_="check")
    op.create_check_constraint(
        op.f("ck_partners_event_types_known"),
        "partners",
        f"event_types <@ ARRAY[{_quoted(events)}]::varchar[]",
    )


def _partial_index(name: str, table: str, column: str, where: str, *, unique: bool = False) -> None:
    op.create_index(name, table, [column], unique=unique, postgresql_where=sa.text(where))


def upgrade() -> None:
    op.create_table(
        "provider_events",
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=128), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("provider", "id", name=op.f("pk_provider_events")),
    )
    op.execute(
        "INSERT INTO provider_events (provider, id, type, received_at)"
        " SELECT 'stripe', id, type, received_at FROM stripe_events"
    )
    op.drop_table("stripe_events")
    _event_checks(_NEW_EVENTS)

    op.add_column("payments", sa.Column("authorized_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "payments", sa.Column("pending_refund_amount", sa.BigInteger(), server_default="0", nullable=False)
    )
    op.add_column("payments", sa.Column("dispute_id", sa.String(length=255), nullable=True))
    op.add_column("payments", sa.Column("dispute_status", sa.String(length=32), nullable=True))
    op.add_column("payments", sa.Column("dispute_amount", sa.BigInteger(), nullable=True))
    op.add_column("payments", sa.Column("dispute_reason", sa.String(length=64), nullable=True))
    op.execute("UPDATE payments SET authorized_at = updated_at WHERE status = 'authorized'")
    op.create_check_constraint(
        op.f("ck_payments_pending_refund_amount"),
        "payments",
        "pending_refund_amount >= 0 AND (refunded_amount > captured_amount"  # refused by the other check
        " OR refunded_amount + pending_refund_amount <= captured_amount)",
    )
    op.create_check_constraint(
        op.f("ck_payments_dispute_status"),
        "payments",
        f"dispute_status IS NULL OR dispute_status IN ({_quoted(_DISPUTE_STATUSES)})",
    )
    op.create_check_constraint(
        op.f("ck_payments_dispute_amount"), "payments", "dispute_amount IS NULL OR dispute_amount >= 0"
    )
    _partial_index("ix_payments_authorized_at", "payments", "authorized_at", "status = 'authorized'")

    op.add_column(
        "refunds", sa.Column("status", sa.String(length=16), server_default="succeeded", nullable=False)
    )
    op.add_column("refunds", sa.Column("failure_reason", sa.String(length=500), nullable=True))
    op.add_column(
        "refunds",
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_refunds_status"), "refunds", "status IN ('pending', 'succeeded', 'failed')"
    )
    _partial_index(
        "uq_refunds_provider_refund_id",
        "refunds",
        "provider_refund_id",
        "provider_refund_id IS NOT NULL",
        unique=True,
    )

    op.create_table(
        "payment_commands",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("payment_id", sa.UUID(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("request_key", sa.String(length=255), nullable=True),
        sa.Column("request_fingerprint", sa.String(length=128), nullable=False),
        sa.Column("provider_key", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "action IN ('capture', 'refund', 'cancel')", name=op.f("ck_payment_commands_action")
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payments.id"],
            name=op.f("fk_payment_commands_payment_id_payments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_commands")),
        sa.UniqueConstraint(
            "payment_id",
            "action",
            "request_key",
            name=op.f("uq_payment_commands_payment_id_action_request_key"),
        ),
        sa.UniqueConstraint("provider_key", name=op.f("uq_payment_commands_provider_key")),
    )

    op.add_column("reservations", sa.Column("capture_method", sa.String(length=16), nullable=True))
    op.create_check_constraint(
        op.f("ck_reservations_capture_method"),
        "reservations",
        "capture_method IS NULL OR capture_method IN ('automatic', 'manual')",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_reservations_capture_method"), "reservations", type_="check")
    op.drop_column("reservations", "capture_method")
    op.drop_table("payment_commands")

    op.drop_index("uq_refunds_provider_refund_id", table_name="refunds")
    op.drop_constraint(op.f("ck_refunds_status"), "refunds", type_="check")
    # A refund that never finished (or failed) was not a refund in the old schema.
    op.execute("DELETE FROM refunds WHERE status <> 'succeeded'")
    op.drop_column("refunds", "updated_at")
    op.drop_column("refunds", "failure_reason")
    op.drop_column("refunds", "status")

    op.drop_index(
        "ix_payments_authorized_at", table_name="payments", postgresql_where=sa.text("status = 'authorized'")
    )
    op.drop_constraint(op.f("ck_payments_dispute_amount"), "payments", type_="check")
    op.drop_constraint(op.f("ck_payments_dispute_status"), "payments", type_="check")
    op.drop_constraint(op.f("ck_payments_pending_refund_amount"), "payments", type_="check")
    for column in (
        "dispute_reason",
        "dispute_amount",
        "dispute_status",
        "dispute_id",
        "pending_refund_amount",
    ):
        op.drop_column("payments", column)
    op.drop_column("payments", "authorized_at")

    # Events of the new types cannot stay under the old check; partners lose those subscriptions.
    new_only = _quoted([e for e in _NEW_EVENTS if e not in _OLD_EVENTS])
    op.execute(f"DELETE FROM payment_events WHERE type IN ({new_only})")  # noqa: S608 (constants)
    op.execute(
        "UPDATE partners SET event_types = ARRAY(SELECT unnest(event_types) EXCEPT"  # noqa: S608 (constants)
        f" SELECT unnest(ARRAY[{new_only}]::varchar[]))"
    )
    op.execute(
        "UPDATE partners SET event_types = ARRAY['payment.succeeded']::varchar[]"
        " WHERE cardinality(event_types) = 0"
    )
    _event_checks(_OLD_EVENTS)

    op.create_table(
        "stripe_events",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=128), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stripe_events")),
    )
    op.execute(
        "INSERT INTO stripe_events (id, type, received_at)"
        " SELECT id, type, received_at FROM provider_events WHERE provider = 'stripe'"
    )
    op.drop_table("provider_events")
