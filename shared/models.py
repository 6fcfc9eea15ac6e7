"""SQLAlchemy 2 models of the one shared database.

Ownership (each service writes only its own tables, they talk over HTTP):
- gateway: ``users``, ``login_throttles``, ``reservations``, ``partners``, ``operational_events`` (the
  outbox of ``endpoint.*`` events), ``web_sessions``, ``portal_links``, ``partner_api_tokens``
- payment_ms: ``payments``, ``refunds``, ``idempotency_keys``, ``payment_events`` (the outbox),
  ``provider_events``, ``payment_commands``, ``webhook_deliveries``, ``delivery_attempts``,
  ``endpoint_health``, ``delivery_rollups``

Money is ``BIGINT`` minor units plus an ISO 4217 code; the database enforces it, not only Python.
Columns that point across the ownership line carry no foreign key on purpose: a service must be able to keep
its history when the other side deletes, and neither service's writes may wait on the other's rows. They are:
- ``payments.reservation_id`` and ``payments.user_id`` (payment_ms → the gateway's reservations and users);
- ``reservations.payment_id`` (the gateway → payment_ms's payments);
- ``webhook_deliveries.partner_id`` (payment_ms → the gateway's partners).
Within one service's tables the references are real foreign keys, ``idempotency_keys.payment_id`` included.

Every state column is checked against its vocabulary and every counter and amount against its range, except
values that come from outside (``payments.provider_status`` and ``provider_events.type`` are the provider's
words; ``webhook_deliveries.last_status_code`` and ``delivery_attempts.status_code`` are what a partner's
server answered, whatever that was).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.contracts import DISPUTE_STATUSES, EVENT_SOURCES, EVENT_TYPES, REFUND_STATUSES

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

USER_ROLES = ("user", "admin")
RESERVATION_STATUSES = ("payable", "pending", "paid", "refunded")
PAYMENT_STATUSES = (
    "pending",
    "processing",
    "authorized",
    "succeeded",
    "failed",
    "canceled",
    "partially_refunded",
    "refunded",
)
PAYMENT_PROVIDERS = ("mock", "stripe", "cash")
CAPTURE_METHODS = ("automatic", "manual")
PAYMENT_COMMANDS = ("capture", "refund", "cancel")
WEB_SESSION_KINDS = ("console", "portal")
DELIVERY_STATUSES = ("pending", "succeeded", "failed", "canceled")
# Why a pending delivery is not due: an earlier event of its payment to an ordered partner is not
# finished yet, or its partner is disabled (re-enabling resumes it).
DELIVERY_HOLDS = ("ordering", "disabled")
OPERATIONAL_EVENT_TYPES = ("endpoint.disabled", "endpoint.enabled", "endpoint.secret_rotated")
IDEMPOTENCY_STATES = ("in_flight", "completed")


def _in(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


def _array(values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"ARRAY[{quoted}]::varchar[]"


CURRENCY_CHECK = "currency ~ '^[A-Z]{3}$'"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        dict[str, Any]: JSONB,
        datetime: DateTime(timezone=True),
        uuid.UUID: UUID(as_uuid=True),
    }


def _uuid_pk() -> Mapped[uuid.UUID]:
    return mapped_column(primary_key=True, default=uuid.uuid4, server_default=text("gen_random_uuid()"))


def _created_at() -> Mapped[datetime]:
    return mapped_column(server_default=func.now())


# --------------------------------------------------------------------------------------------- gateway


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(_in("role", USER_ROLES), name="role"),
        CheckConstraint("email = lower(email) AND length(email) BETWEEN 3 AND 320", name="email"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16), server_default="user")
    is_active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    created_at: Mapped[datetime] = _created_at()


class LoginThrottle(Base):
    """Failed logins per key (``account:<email>`` or ``ip:<address>``) in a sliding window.

    In the database rather than in memory so N gateway replicas share one count.
    """

    __tablename__ = "login_throttles"
    __table_args__ = (CheckConstraint("failures >= 0", name="failures"),)

    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, server_default="0")
    window_started_at: Mapped[datetime] = mapped_column(server_default=func.now())
    locked_until: Mapped[datetime | None] = mapped_column()


class Reservation(Base):
    __tablename__ = "reservations"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(CURRENCY_CHECK, name="currency"),
        CheckConstraint(_in("status", RESERVATION_STATUSES), name="status"),
        CheckConstraint(
            f"payment_status IS NULL OR {_in('payment_status', PAYMENT_STATUSES)}", name="payment_status"
        ),
        CheckConstraint(
            f"capture_method IS NULL OR {_in('capture_method', CAPTURE_METHODS)}", name="capture_method"
        ),
        Index("ix_reservations_user_id_created_at", "user_id", "created_at"),
        # Room on each page for the row's updates, so they stay HOT (revision 0003).
        {"postgresql_with": {"fillfactor": "80"}},
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    description: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16), server_default="payable")
    # The live or last payment and its status as last heard. payment_id has NO foreign key: payments belong
    # to payment_ms (see the module docstring), a reservation keeps its history whatever happens there.
    payment_id: Mapped[uuid.UUID | None] = mapped_column()
    payment_status: Mapped[str | None] = mapped_column(String(32))
    # Set by the admin who creates it: ``manual`` holds the money (escrow) until an admin captures it;
    # NULL lets the checkout request choose.
    capture_method: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class Partner(Base):
    __tablename__ = "partners"
    __table_args__ = (
        CheckConstraint("cardinality(event_types) > 0", name="event_types_not_empty"),
        CheckConstraint(f"event_types <@ {_array(EVENT_TYPES)}", name="event_types_known"),
        CheckConstraint("secret LIKE 'whsec_%'", name="secret_format"),
        CheckConstraint("jsonb_typeof(retired_secrets) = 'array'", name="retired_secrets_array"),
        CheckConstraint(
            "max_requests_per_second IS NULL OR max_requests_per_second > 0", name="max_requests_per_second"
        ),
        Index("ix_partners_event_types", "event_types", postgresql_using="gin"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    name: Mapped[str] = mapped_column(String(200), unique=True)
    url: Mapped[str] = mapped_column(String(2048))
    event_types: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    enabled: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    disabled_reason: Mapped[str | None] = mapped_column(String(200))
    # Whether its webhooks carry the payer's email and name (off: the minimal public payload).
    payer_details: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    disabled_at: Mapped[datetime | None] = mapped_column()
    secret: Mapped[str] = mapped_column(String(200))
    # Secrets replaced by a rotation, newest first: ``[{"secret", "retired_at", "expires_at"}]``. Each
    # keeps signing until its ``expires_at`` (retired + the overlap), however many rotations follow.
    retired_secrets: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    # Ordered delivery: a payment's later event waits until its earlier one is delivered or given up.
    ordered: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    # Requests per second the dispatcher sends to this partner at most (per dispatcher process); none.
    max_requests_per_second: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class WebSession(Base):
    """A signed-in browser of the operator console (an admin user) or of the partner portal (one partner).

    The cookie carries a random token; only its SHA-256 is stored, so a database read leaks no session.
    ``csrf_token`` is the value every form of that session must send back.
    """

    __tablename__ = "web_sessions"
    __table_args__ = (
        CheckConstraint(_in("kind", WEB_SESSION_KINDS), name="kind"),
        CheckConstraint(
            "(kind = 'console' AND user_id IS NOT NULL AND partner_id IS NULL)"
            " OR (kind = 'portal' AND partner_id IS NOT NULL AND user_id IS NULL)",
            name="owner",
        ),
        Index("ix_web_sessions_expires_at", "expires_at"),
        Index("ix_web_sessions_partner_id", "partner_id"),
    )

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    partner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    portal_link_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("portal_links.id", ondelete="CASCADE")
    )
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = _created_at()
    expires_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()


class PortalLink(Base):
    """A short-lived, single-use link into the partner portal (only the token's SHA-256 is kept)."""

    __tablename__ = "portal_links"
    __table_args__ = (Index("ix_portal_links_partner_id_created_at", "partner_id", "created_at"),)

    id: Mapped[uuid.UUID] = _uuid_pk()
    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    issued_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = _created_at()
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()


class PartnerApiToken(Base):
    """A bearer token a partner issued itself in the portal, for its pull feed (SHA-256 kept only)."""

    __tablename__ = "partner_api_tokens"
    __table_args__ = (
        CheckConstraint("length(name) BETWEEN 1 AND 100", name="name_length"),
        Index("ix_partner_api_tokens_partner_id_created_at", "partner_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = _created_at()
    last_used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()


class OperationalEvent(Base):
    """The gateway's outbox of ``endpoint.*`` events, written in the same transaction as the change.

    The dispatcher reads them through ``/internal/operational-events``, signs and sends them to the
    operator's endpoint, logs and counts them, and marks them processed."""

    __tablename__ = "operational_events"
    __table_args__ = (
        CheckConstraint(_in("type", OPERATIONAL_EVENT_TYPES), name="type"),
        Index(
            "ix_operational_events_unprocessed", "created_at", postgresql_where=text("processed_at IS NULL")
        ),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    type: Mapped[str] = mapped_column(String(64))
    # No foreign key: the event outlives a deleted partner.
    partner_id: Mapped[uuid.UUID] = mapped_column()
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = _created_at()
    processed_at: Mapped[datetime | None] = mapped_column()


# ------------------------------------------------------------------------------------------ payment_ms


class Payment(Base):
    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(CURRENCY_CHECK, name="currency"),
        CheckConstraint(_in("status", PAYMENT_STATUSES), name="status"),
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
    # What made it happen (``shared.contracts.EventSource``); NULL for rows older than revision 0009.
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


class WebhookDelivery(Base):
    """One event to one partner. ``due_at`` doubles as the lease: claiming pushes it forward,
    so a delivery held by a worker that died is due again once its lease runs out."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint(_in("status", DELIVERY_STATUSES), name="status"),
        CheckConstraint("attempt_count >= 0", name="attempt_count"),
        CheckConstraint("throttled_count >= 0 AND throttled_count <= attempt_count", name="throttled_count"),
        CheckConstraint(f"held IS NULL OR {_in('held', DELIVERY_HOLDS)}", name="held"),
        CheckConstraint("NOT test OR status IN ('succeeded', 'failed')", name="test_finished"),
        UniqueConstraint("event_id", "partner_id", name="uq_webhook_deliveries_event_id_partner_id"),
        # The dispatcher's "due deliveries": WHERE status = 'pending' AND due_at <= now() ORDER BY due_at.
        Index("ix_webhook_deliveries_due", "due_at", postgresql_where=text("status = 'pending'")),
        Index("ix_webhook_deliveries_partner_id_created_at", "partner_id", "created_at"),
        Index("ix_webhook_deliveries_status_created_at", "status", "created_at"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("payment_events.id", ondelete="CASCADE"))
    # The gateway's partner (no foreign key across the ownership line); url kept as sent.
    partner_id: Mapped[uuid.UUID] = mapped_column()
    url: Mapped[str] = mapped_column(String(2048))
    status: Mapped[str] = mapped_column(String(16), server_default="pending")
    attempt_count: Mapped[int] = mapped_column(Integer, server_default="0")
    # Attempts answered 429: they back the partner off but do not use up the retry schedule.
    throttled_count: Mapped[int] = mapped_column(Integer, server_default="0")
    due_at: Mapped[datetime] = mapped_column(server_default=func.now())
    # Set while a pending delivery waits (``DELIVERY_HOLDS``); ``due_at`` is then far in the future.
    held: Mapped[str | None] = mapped_column(String(16))
    leased_by: Mapped[str | None] = mapped_column(String(200))
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(1000))
    delivered_at: Mapped[datetime | None] = mapped_column()
    # A test send (its event has no payment): finished when written, never due, never replayed, not in
    # the rollups (the dispatcher never sends it).
    test: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class DeliveryAttempt(Base):
    __tablename__ = "delivery_attempts"
    __table_args__ = (
        CheckConstraint("attempt_number > 0", name="attempt_number"),
        CheckConstraint("duration_ms >= 0", name="duration_ms"),
        CheckConstraint("response_excerpt IS NULL OR length(response_excerpt) <= 2048", name="excerpt_cap"),
        UniqueConstraint(
            "delivery_id", "attempt_number", name="uq_delivery_attempts_delivery_id_attempt_number"
        ),
        # Partner health and deliveries per minute read the last hours of attempts (revision 0004).
        Index("ix_delivery_attempts_started_at", "started_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    delivery_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_deliveries.id", ondelete="CASCADE"))
    attempt_number: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column()
    duration_ms: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer)
    response_excerpt: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(String(1000))
    worker: Mapped[str | None] = mapped_column(String(200))


class EndpointHealth(Base):
    """How a partner's deliveries have been going, shared by every dispatcher: the health policy disables
    a partner whose attempts all failed for a span, or failed so many times in a row. Only failures write
    here (a success resets a row that has failures), so a healthy partner costs nothing."""

    __tablename__ = "endpoint_health"
    __table_args__ = (CheckConstraint("consecutive_failures >= 0", name="consecutive_failures"),)

    # The gateway's partner (no foreign key across the ownership line).
    partner_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    consecutive_failures: Mapped[int] = mapped_column(Integer, server_default="0")
    # The first failure since the last success: every attempt since then failed.
    failing_since: Mapped[datetime | None] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


# The upper bounds (ms) of the latency histogram of ``delivery_rollups``; past the last, ``max_ms``.
LATENCY_BOUNDS_MS = (10, 25, 50, 100, 150, 250, 400, 600, 1000, 1500, 2500, 4000, 6000, 10000, 15000, 30000)


class DeliveryRollup(Base):
    """Attempts per partner per minute, written by the dispatcher's outcome recorder in the statement
    that records them: the partners' 24 h health and the deliveries-per-minute chart read these rows,
    never the attempts (a million of them a day). Test sends are not attempts of the dispatcher and are
    not counted."""

    __tablename__ = "delivery_rollups"
    __table_args__ = (
        CheckConstraint("succeeded >= 0 AND succeeded <= attempts", name="succeeded"),
        CheckConstraint(f"cardinality(latency_le) = {len(LATENCY_BOUNDS_MS)}", name="latency_le"),
        Index("ix_delivery_rollups_minute", "minute"),
    )

    # The gateway's partner (no foreign key across the ownership line).
    partner_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    # The minute the attempts started in (date_trunc('minute', started_at)).
    minute: Mapped[datetime] = mapped_column(primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer)
    succeeded: Mapped[int] = mapped_column(Integer)  # answered 2xx
    # latency_le[i]: attempts that took at most LATENCY_BOUNDS_MS[i] ms (cumulative, as Prometheus' le)
    latency_le: Mapped[list[int]] = mapped_column(ARRAY(Integer))
    max_ms: Mapped[int] = mapped_column(Integer)
    last_failure_at: Mapped[datetime | None] = mapped_column()
    last_failure: Mapped[str | None] = mapped_column(String(1000))
