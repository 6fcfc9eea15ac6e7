"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22 05:35:02.440364+00:00
"""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0001"
down_revision: str | None = None

# Each table's indexes, created right after the table and dropped before it (in reverse).
_INDEXES: dict[str, tuple[tuple[str, list[str], dict[str, Any]], ...]] = {
    "idempotency_keys": (("ix_idempotency_keys_created_at", ["created_at"], {}),),
    "partners": (("ix_partners_event_types", ["event_types"], {"postgresql_using": "gin"}),),
    "payments": (
        ("ix_payments_created_at", ["created_at"], {}),
        ("ix_payments_reservation_id", ["reservation_id"], {}),
        ("ix_payments_status_created_at", ["status", "created_at"], {}),
        ("ix_payments_user_id_created_at", ["user_id", "created_at"], {}),
        (
            "uq_payments_provider_session_id",
            ["provider", "provider_session_id"],
            {"postgresql_where": sa.text("provider_session_id IS NOT NULL"), "unique": True},
        ),
    ),
    "payment_events": (
        ("ix_payment_events_created_at", ["created_at"], {}),
        ("ix_payment_events_payment_id_created_at", ["payment_id", "created_at"], {}),
        (
            "ix_payment_events_unfanned",
            ["created_at"],
            {"postgresql_where": sa.text("fanned_out_at IS NULL")},
        ),
    ),
    "refunds": (("ix_refunds_payment_id", ["payment_id"], {}),),
    "reservations": (("ix_reservations_user_id_created_at", ["user_id", "created_at"], {}),),
    "webhook_deliveries": (
        ("ix_webhook_deliveries_due", ["due_at"], {"postgresql_where": sa.text("status = 'pending'")}),
        ("ix_webhook_deliveries_partner_id_created_at", ["partner_id", "created_at"], {}),
        ("ix_webhook_deliveries_status_created_at", ["status", "created_at"], {}),
    ),
}


def _uuid_pk() -> sa.Column[Any]:
    return sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False)


def _now(name: str) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False)


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def _create_table(
    name: str,
    *items: Any,
    unique: tuple[sa.UniqueConstraint, ...] = (),
    primary_key: tuple[str, ...] = ("id",),
) -> None:
    """The table, its primary key (``pk_<table>``) before its unique constraints, then its indexes."""
    op.create_table(name, *items, sa.PrimaryKeyConstraint(*primary_key, name=op.f(f"pk_{name}")), *unique)
    for index, columns, options in _INDEXES.get(name, ()):
        op.create_index(index, name, columns, **{"unique": False, **options})


def _drop_table(name: str) -> None:
    for index, _columns, options in reversed(_INDEXES.get(name, ())):
        op.drop_index(index, table_name=name, **{k: v for k, v in options.items() if k != "unique"})
    op.drop_table(name)


def upgrade() -> None:
    _create_table(
        "idempotency_keys",
        sa.Column("scope", sa.String(length=255), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_fingerprint", sa.String(length=128), nullable=False),
        sa.Column("state", sa.String(length=16), server_default="in_flight", nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.LargeBinary(), nullable=True),
        sa.Column("payment_id", sa.UUID(), nullable=True),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        _now("created_at"),
        sa.CheckConstraint(
            "(state = 'completed') = (response_status IS NOT NULL AND response_body IS NOT NULL)",
            name=op.f("ck_idempotency_keys_completed_has_response"),
        ),
        sa.CheckConstraint("state IN ('in_flight', 'completed')", name=op.f("ck_idempotency_keys_state")),
        sa.CheckConstraint("length(key) BETWEEN 1 AND 255", name=op.f("ck_idempotency_keys_key_length")),
        primary_key=("scope", "key"),
    )
    _create_table(
        "login_throttles",
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("failures", sa.Integer(), server_default="0", nullable=False),
        _now("window_started_at"),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("failures >= 0", name=op.f("ck_login_throttles_failures")),
        primary_key=("key",),
    )
    _create_table(
        "partners",
        _uuid_pk(),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("event_types", postgresql.ARRAY(sa.String(length=64)), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("disabled_reason", sa.String(length=200), nullable=True),
        sa.Column("secret", sa.String(length=200), nullable=False),
        sa.Column("previous_secret", sa.String(length=200), nullable=True),
        sa.Column("previous_secret_expires_at", sa.DateTime(timezone=True), nullable=True),
        _now("created_at"),
        _now("updated_at"),
        sa.CheckConstraint("secret LIKE 'whsec_%'", name=op.f("ck_partners_secret_format")),
        sa.CheckConstraint(
            "(previous_secret IS NULL) = (previous_secret_expires_at IS NULL)",
            name=op.f("ck_partners_previous_secret_pair"),
        ),
        sa.CheckConstraint("cardinality(event_types) > 0", name=op.f("ck_partners_event_types_not_empty")),
        unique=(sa.UniqueConstraint("name", name=op.f("uq_partners_name")),),
    )
    _create_table(
        "payments",
        _uuid_pk(),
        sa.Column("reservation_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("captured_amount", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("refunded_amount", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("status", sa.String(length=32), server_default="pending", nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("capture_method", sa.String(length=16), server_default="automatic", nullable=False),
        sa.Column("description", sa.String(length=500), server_default="", nullable=False),
        sa.Column("payer_email", sa.String(length=320), nullable=True),
        sa.Column("payer_name", sa.String(length=200), nullable=True),
        sa.Column("return_url", sa.String(length=2048), nullable=True),
        sa.Column("cancel_url", sa.String(length=2048), nullable=True),
        sa.Column("checkout_url", sa.String(length=2048), nullable=True),
        sa.Column("provider_session_id", sa.String(length=255), nullable=True),
        sa.Column("provider_payment_id", sa.String(length=255), nullable=True),
        sa.Column("provider_status", sa.String(length=32), nullable=True),
        sa.Column(
            "metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("failure_reason", sa.String(length=500), nullable=True),
        sa.Column("confirmed_by", sa.String(length=200), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        _now("created_at"),
        _now("updated_at"),
        sa.CheckConstraint(
            "capture_method IN ('automatic', 'manual')", name=op.f("ck_payments_capture_method")
        ),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f("ck_payments_currency")),
        sa.CheckConstraint("provider IN ('mock', 'stripe', 'cash')", name=op.f("ck_payments_provider")),
        sa.CheckConstraint(
            "status IN ('pending', 'processing', 'authorized', 'succeeded', 'failed', 'canceled', 'partially_refunded', 'refunded')",
            name=op.f("ck_payments_status"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_payments_amount_positive")),
        sa.CheckConstraint(
            "captured_amount >= 0 AND captured_amount <= amount", name=op.f("ck_payments_captured_amount")
        ),
        sa.CheckConstraint(
            "refunded_amount >= 0 AND refunded_amount <= captured_amount",
            name=op.f("ck_payments_refunded_amount"),
        ),
    )
    _create_table(
        "stripe_events",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=128), nullable=False),
        _now("received_at"),
    )
    _create_table(
        "users",
        _uuid_pk(),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("role", sa.String(length=16), server_default="user", nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        _now("created_at"),
        sa.CheckConstraint("role IN ('user', 'admin')", name=op.f("ck_users_role")),
        sa.CheckConstraint(
            "email = lower(email) AND length(email) BETWEEN 3 AND 320", name=op.f("ck_users_email")
        ),
        unique=(sa.UniqueConstraint("email", name=op.f("uq_users_email")),),
    )
    _create_table(
        "payment_events",
        _uuid_pk(),
        sa.Column("payment_id", sa.UUID(), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        _now("created_at"),
        sa.Column("fanned_out_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fan_out_attempts", sa.Integer(), server_default="0", nullable=False),
        _now("fan_out_due_at"),
        sa.CheckConstraint(
            "type IN ('payment.created', 'payment.processing', 'payment.authorized', 'payment.captured', 'payment.succeeded', 'payment.failed', 'payment.canceled', 'payment.refunded')",
            name=op.f("ck_payment_events_type"),
        ),
        _fk("payment_events", "payment_id", "payments", "CASCADE"),
    )
    _create_table(
        "refunds",
        _uuid_pk(),
        sa.Column("payment_id", sa.UUID(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("provider_refund_id", sa.String(length=255), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        _now("created_at"),
        sa.CheckConstraint("amount > 0", name=op.f("ck_refunds_amount_positive")),
        _fk("refunds", "payment_id", "payments", "CASCADE"),
    )
    _create_table(
        "reservations",
        _uuid_pk(),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="payable", nullable=False),
        sa.Column("payment_id", sa.UUID(), nullable=True),
        sa.Column("payment_status", sa.String(length=32), nullable=True),
        _now("created_at"),
        _now("updated_at"),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f("ck_reservations_currency")),
        sa.CheckConstraint(
            "status IN ('payable', 'pending', 'paid', 'refunded')", name=op.f("ck_reservations_status")
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_reservations_amount_positive")),
        _fk("reservations", "user_id", "users", "RESTRICT"),
    )
    _create_table(
        "webhook_deliveries",
        _uuid_pk(),
        sa.Column("event_id", sa.UUID(), nullable=False),
        sa.Column("partner_id", sa.UUID(), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("attempt_count", sa.Integer(), server_default="0", nullable=False),
        _now("due_at"),
        sa.Column("leased_by", sa.String(length=200), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=1000), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        _now("created_at"),
        _now("updated_at"),
        sa.CheckConstraint(
            "status IN ('pending', 'succeeded', 'failed', 'canceled')",
            name=op.f("ck_webhook_deliveries_status"),
        ),
        sa.CheckConstraint("attempt_count >= 0", name=op.f("ck_webhook_deliveries_attempt_count")),
        _fk("webhook_deliveries", "event_id", "payment_events", "CASCADE"),
        unique=(
            sa.UniqueConstraint("event_id", "partner_id", name="uq_webhook_deliveries_event_id_partner_id"),
        ),
    )
    _create_table(
        "delivery_attempts",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("delivery_id", sa.UUID(), nullable=False),
        sa.Column("attempt_number", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response_excerpt", sa.Text(), nullable=True),
        sa.Column("error", sa.String(length=1000), nullable=True),
        sa.Column("worker", sa.String(length=200), nullable=True),
        sa.CheckConstraint("attempt_number > 0", name=op.f("ck_delivery_attempts_attempt_number")),
        sa.CheckConstraint("duration_ms >= 0", name=op.f("ck_delivery_attempts_duration_ms")),
        sa.CheckConstraint(
            "response_excerpt IS NULL OR length(response_excerpt) <= 2048",
            name=op.f("ck_delivery_attempts_excerpt_cap"),
        ),
        _fk("delivery_attempts", "delivery_id", "webhook_deliveries", "CASCADE"),
        unique=(
            sa.UniqueConstraint(
                "delivery_id", "attempt_number", name="uq_delivery_attempts_delivery_id_attempt_number"
            ),
        ),
    )


def downgrade() -> None:
    _drop_table("delivery_attempts")
    _drop_table("webhook_deliveries")
    _drop_table("reservations")
    _drop_table("refunds")
    _drop_table("payment_events")
    _drop_table("users")
    _drop_table("stripe_events")
    _drop_table("payments")
    _drop_table("partners")
    _drop_table("login_throttles")
    _drop_table("idempotency_keys")
