"""constraints the database audit found missing

- ``idempotency_keys.payment_id`` → ``payments.id`` (both payment_ms's): DEFERRABLE INITIALLY DEFERRED, ON
  DELETE SET NULL, with the index a payment's delete needs to find its keys. Keys naming a payment that no
  longer exists are set to NULL first (what ON DELETE SET NULL would have done).
- checks: ``reservations.payment_status`` is a payment status or NULL; ``partners.event_types`` are known
  event types; ``payment_events.fan_out_attempts >= 0``; ``idempotency_keys.response_status`` is an HTTP
  status.
"""

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"

# Frozen copies of the vocabularies as of this revision (shared/models.py may grow later ones).
PAYMENT_STATUSES = "'pending', 'processing', 'authorized', 'succeeded', 'failed', 'canceled', 'partially_refunded', 'refunded'"
EVENT_TYPES = (
    "'payment.created', 'payment.processing', 'payment.authorized', 'payment.captured', 'payment.succeeded', "
    "'payment.failed', 'payment.canceled', 'payment.refunded'"
)

CHECKS = (
    (
        "ck_reservations_payment_status",
        "reservations",
        f"payment_status IS NULL OR payment_status IN ({PAYMENT_STATUSES})",
    ),
    ("ck_partners_event_types_known", "partners", f"event_types <@ ARRAY[{EVENT_TYPES}]::varchar[]"),
    ("ck_payment_events_fan_out_attempts", "payment_events", "fan_out_attempts >= 0"),
    (
        "ck_idempotency_keys_response_status",
        "idempotency_keys",
        "response_status IS NULL OR response_status BETWEEN 100 AND 599",
    ),
)


def upgrade() -> None:
    op.execute(
        "UPDATE idempotency_keys SET payment_id = NULL WHERE payment_id IS NOT NULL"
        " AND NOT EXISTS (SELECT 1 FROM payments WHERE payments.id = idempotency_keys.payment_id)"
    )
    op.create_index("ix_idempotency_keys_payment_id", "idempotency_keys", ["payment_id"], unique=False)
    op.create_foreign_key(
        op.f("fk_idempotency_keys_payment_id_payments"),
        "idempotency_keys",
        "payments",
        ["payment_id"],
        ["id"],
        ondelete="SET NULL",
        deferrable=True,
        initially="DEFERRED",
    )
    for name, table, condition in CHECKS:
        op.create_check_constraint(op.f(name), table, condition)


def downgrade() -> None:
    for name, table, _ in reversed(CHECKS):
        op.drop_constraint(op.f(name), table, type_="check")
    op.drop_constraint(
        op.f("fk_idempotency_keys_payment_id_payments"), "idempotency_keys", type_="foreignkey"
    )
    op.drop_index("ix_idempotency_keys_payment_id", table_name="idempotency_keys")
