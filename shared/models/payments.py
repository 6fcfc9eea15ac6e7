"""payment_ms's payment tables: payments, refunds, commands, idempotency keys, the event outbox and the
providers' events."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    DDL,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    event,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.contracts import DISPUTE_STATUSES, EVENT_SOURCES, EVENT_TYPES, REFUND_STATUSES
from shared.models.base import (
    CAPTURE_METHODS,
    IDEMPOTENCY_STATES,
    LIVE_PAYMENT_STATUSES,
    PAYMENT_COMMANDS,
    PAYMENT_PROVIDERS,
    PAYMENT_STATUSES,
    QUEUE_AUTOVACUUM,
    Base,
    _amount_checks,
    _created_at,
    _in,
    _uuid_pk,
)


class Payment(Base):
    __tablename__ = "payments"
    __table_args__ = (
        *_amount_checks(PAYMENT_STATUSES),
        CheckConstraint(_in("provider", PAYMENT_PROVIDERS), name="provider"),
        CheckConstraint(_in("capture_method", CAPTURE_METHODS), name="capture_method"),
        CheckConstraint("captured_amount >= 0 AND captured_amount <= amount", name="captured_amount"),
        CheckConstraint(
            "refunded_amount >= 0 AND refunded_amount <= captured_amount", name="refunded_amount"
        ),
        CheckConstraint(
            "pending_refund_amount >= 0 AND (refunded_amount > captured_amount"  # refused by the other check
            " OR refunded_amount + pending_refund_amount <= captured_amount)",
            name="pending_refund_amount",
        ),
        CheckConstraint(
            f"dispute_status IS NULL OR {_in('dispute_status', DISPUTE_STATUSES)}", name="dispute_status"
        ),
        CheckConstraint("dispute_amount IS NULL OR dispute_amount >= 0", name="dispute_amount"),
        Index("ix_payments_reservation_id", "reservation_id"),
        # At most one live payment per reservation: payment_ms's create fails on it (409).
        Index(
            "uq_payments_live_reservation_id",
            "reservation_id",
            unique=True,
            postgresql_where=text(_in("status", LIVE_PAYMENT_STATUSES)),
        ),
        Index("ix_payments_user_id_created_at", "user_id", "created_at"),
        Index("ix_payments_status_created_at", "status", "created_at"),
        Index("ix_payments_created_at", "created_at"),
        # Reconciliation's "holds past their window".
        Index("ix_payments_authorized_at", "authorized_at", postgresql_where=text("status = 'authorized'")),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    # The gateway's reservation and user: NO foreign keys across the ownership line (module docstring).
    reservation_id: Mapped[uuid.UUID] = mapped_column()
    user_id: Mapped[uuid.UUID] = mapped_column()
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    captured_amount: Mapped[int] = mapped_column(BigInteger, server_default="0")
    refunded_amount: Mapped[int] = mapped_column(BigInteger, server_default="0")
    status: Mapped[str] = mapped_column(String(32), server_default="pending")
    provider: Mapped[str] = mapped_column(String(16))
    capture_method: Mapped[str] = mapped_column(String(16), server_default="automatic")
    description: Mapped[str] = mapped_column(String(500), server_default="")
    payer_email: Mapped[str | None] = mapped_column(String(320))
    payer_name: Mapped[str | None] = mapped_column(String(200))
    return_url: Mapped[str | None] = mapped_column(String(2048))
    cancel_url: Mapped[str | None] = mapped_column(String(2048))
    checkout_url: Mapped[str | None] = mapped_column(String(2048))
    provider_session_id: Mapped[str | None] = mapped_column(String(255))
    provider_payment_id: Mapped[str | None] = mapped_column(String(255))
    # The provider's own view as last seen (mock: the payer's choice on the hosted page; stripe: the
    # checkout session's status). Our ``status`` only moves through the state machine.
    provider_status: Mapped[str | None] = mapped_column(String(32))
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONB, server_default=text("'{}'::jsonb"))
    failure_reason: Mapped[str | None] = mapped_column(String(500))
    confirmed_by: Mapped[str | None] = mapped_column(String(200))
    confirmed_at: Mapped[datetime | None] = mapped_column()
    authorized_at: Mapped[datetime | None] = mapped_column()
    pending_refund_amount: Mapped[int] = mapped_column(BigInteger, server_default="0")
    dispute_id: Mapped[str | None] = mapped_column(String(255))
    dispute_status: Mapped[str | None] = mapped_column(String(32))
    dispute_amount: Mapped[int | None] = mapped_column(BigInteger)
    dispute_reason: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())

    __mapper_args__ = {"eager_defaults": True}


Index(
    "uq_payments_provider_session_id",
    Payment.provider,
    Payment.provider_session_id,
    unique=True,
    postgresql_where=Payment.provider_session_id.isnot(None),
)


# The console's payments per day (``payment_ms.payments.repositories.rows.daily_stats``) groups by this
# day, provider, status and currency: these statistics tell the planner it is a handful of groups, so it
# hashes them instead of sorting every payment of the period (revision 0012).
event.listen(
    Payment.__table__,
    "after_create",
    DDL(
        "CREATE STATISTICS st_payments_day_provider_status_currency (ndistinct)"
        " ON (CAST(timezone('UTC', created_at) AS date)), provider, status, currency FROM payments"
    ),
)


class Refund(Base):
    """One refund, made through paygate or (Stripe's Dashboard) outside it: ``pending`` until the
    provider settles it, then ``succeeded`` or ``failed``, never back."""

    __tablename__ = "refunds"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(_in("status", REFUND_STATUSES), name="status"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    payment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("payments.id", ondelete="CASCADE"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    provider_refund_id: Mapped[str | None] = mapped_column(String(255))
    reason: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16), server_default="succeeded")
    failure_reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


Index(
    "uq_refunds_provider_refund_id",
    Refund.provider_refund_id,
    unique=True,
    postgresql_where=Refund.provider_refund_id.isnot(None),
)


class PaymentCommand(Base):
    """An operator's command on a payment (capture, refund, cancel) and the idempotency key it uses at
    the provider: a retry of the same command (same ``request_key``) reuses it, a new command gets its
    own, so a refusal the provider stored for one key never answers the next command."""

    __tablename__ = "payment_commands"
    __table_args__ = (
        CheckConstraint(_in("action", PAYMENT_COMMANDS), name="action"),
        UniqueConstraint(
            "payment_id", "action", "request_key", name="uq_payment_commands_payment_id_action_request_key"
        ),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    payment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("payments.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(16))
    # The caller's Idempotency-Key (NULL: a command without one, never retried as the same command).
    request_key: Mapped[str | None] = mapped_column(String(255))
    request_fingerprint: Mapped[str] = mapped_column(String(128))
    provider_key: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = _created_at()


class IdempotencyKey(Base):
    """One row per (caller scope, key): the fingerprint of the first request and, once done, its response.

    ``state = 'in_flight'`` while the first request runs (a second one gets 409); the stored response is
    replayed byte for byte. Rows are kept at least ``PAYMENT_MS_IDEMPOTENCY_TTL_HOURS`` (24 h by default).

    ``payment_id`` is a foreign key to ``payments`` (both are payment_ms's), DEFERRABLE INITIALLY DEFERRED so
    the key row may name its payment before that row exists in the same transaction (checked at commit),
    and ON DELETE SET NULL so deleting a payment whose create failed never trips over its key: a retry that
    takes the key over then finds no payment to reuse and creates a new one.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        CheckConstraint(_in("state", IDEMPOTENCY_STATES), name="state"),
        CheckConstraint("length(key) BETWEEN 1 AND 255", name="key_length"),
        CheckConstraint(
            "response_status IS NULL OR response_status BETWEEN 100 AND 599", name="response_status"
        ),
        CheckConstraint(
            "(state = 'completed') = (response_status IS NOT NULL AND response_body IS NOT NULL)",
            name="completed_has_response",
        ),
        Index("ix_idempotency_keys_created_at", "created_at"),
        # Deleting a payment looks up the keys that name it.
        Index("ix_idempotency_keys_payment_id", "payment_id"),
    )

    scope: Mapped[str] = mapped_column(String(255), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_fingerprint: Mapped[str] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(16), server_default="in_flight")
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    payment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("payments.id", ondelete="SET NULL", deferrable=True, initially="DEFERRED")
    )
    locked_until: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = _created_at()


class PaymentEvent(Base):
    """The outbox: written in the same transaction as the state change it records."""

    __tablename__ = "payment_events"
    __table_args__ = (
        CheckConstraint(_in("type", EVENT_TYPES), name="type"),
        CheckConstraint(f"source IS NULL OR {_in('source', EVENT_SOURCES)}", name="source"),
        CheckConstraint("fan_out_attempts >= 0", name="fan_out_attempts"),
        CheckConstraint("sequence > 0", name="sequence"),
        CheckConstraint("(data IS NULL) = (purged_at IS NOT NULL)", name="purged_has_no_data"),
        UniqueConstraint("payment_id", "sequence", name="uq_payment_events_payment_id_sequence"),
        Index("ix_payment_events_payment_id_created_at", "payment_id", "created_at"),
        Index("ix_payment_events_created_at", "created_at"),
        # The dispatcher's fan-out queue: events not yet turned into deliveries.
        Index(
            "ix_payment_events_unfanned",
            "created_at",
            postgresql_where=text("fanned_out_at IS NULL"),
        ),
        {"postgresql_with": QUEUE_AUTOVACUUM},
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    # NULL only for a test send's example event (no payment; written fanned out, never in the feed).
    payment_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("payments.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(64))
    # 1, 2, 3… per payment, in the order of its changes: the ``sequence`` of the webhook envelope.
    sequence: Mapped[int] = mapped_column(Integer)
    # The exact ``data`` object of the webhook body: the payment as it was after the change. NULL once
    # the retention period purged it (``purged_at``); the row, its type and times stay for audit.
    data: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    purged_at: Mapped[datetime | None] = mapped_column()
    request_id: Mapped[str | None] = mapped_column(String(128))
    # What made it happen (``shared.contracts.EventSource``); NULL for rows older than revision 0010.
    source: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = _created_at()
    fanned_out_at: Mapped[datetime | None] = mapped_column()
    fan_out_attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    fan_out_due_at: Mapped[datetime] = mapped_column(server_default=func.now())


class ProviderEvent(Base):
    """Provider events already processed (Stripe's webhooks, the mock provider's own events), by the
    provider's event id: a duplicate is acknowledged and changes nothing."""

    __tablename__ = "provider_events"

    provider: Mapped[str] = mapped_column(String(16), primary_key=True)
    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(128))
    received_at: Mapped[datetime] = _created_at()
