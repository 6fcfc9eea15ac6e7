"""The gateway's tables (users, reservations, partners and their console/portal access, the
operational outbox)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.contracts import EVENT_TYPES
from shared.models.base import (
    CAPTURE_METHODS,
    OPERATIONAL_EVENT_TYPES,
    PAYMENT_STATUSES,
    RESERVATION_STATUSES,
    USER_ROLES,
    WEB_SESSION_KINDS,
    Base,
    _amount_checks,
    _array,
    _created_at,
    _in,
    _uuid_pk,
)


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
    is_active: Mapped[bool] = mapped_column(server_default=text("true"))
    created_at: Mapped[datetime] = _created_at()


class LoginThrottle(Base):
    """Failed logins per key (``account:<email>`` or ``ip:<address>``) in a sliding window.

    In the database rather than in memory so N gateway replicas share one count.
    """

    __tablename__ = "login_throttles"
    __table_args__ = (CheckConstraint("failures >= 0", name="failures"),)

    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    failures: Mapped[int] = mapped_column(server_default="0")
    window_started_at: Mapped[datetime] = mapped_column(server_default=func.now())
    locked_until: Mapped[datetime | None] = mapped_column()


class Reservation(Base):
    __tablename__ = "reservations"
    __table_args__ = (
        *_amount_checks(RESERVATION_STATUSES),
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
    # That payment's created_at: a reservation only adopts a newer payment than the one it has.
    payment_created_at: Mapped[datetime | None] = mapped_column()
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
    enabled: Mapped[bool] = mapped_column(server_default=text("true"))
    disabled_reason: Mapped[str | None] = mapped_column(String(200))
    # Whether its webhooks carry the payer's email and name (off: the minimal public payload).
    payer_details: Mapped[bool] = mapped_column(server_default=text("false"))
    disabled_at: Mapped[datetime | None] = mapped_column()
    secret: Mapped[str] = mapped_column(String(200))
    # Secrets replaced by a rotation, newest first: ``[{"secret", "retired_at", "expires_at"}]``. Each
    # keeps signing until its ``expires_at`` (retired + the overlap), however many rotations follow.
    retired_secrets: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    # Ordered delivery: a payment's later event waits until its earlier one is delivered or given up.
    ordered: Mapped[bool] = mapped_column(server_default=text("false"))
    # Requests per second the dispatcher sends to this partner at most (per dispatcher process); none.
    max_requests_per_second: Mapped[int | None] = mapped_column()
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
