"""payment_ms's webhook delivery tables: one delivery per event and partner, its attempts, each
endpoint's health, the attempts' per-partner per-minute rollups."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import (
    DELIVERY_HOLDS,
    DELIVERY_STATUSES,
    QUEUE_AUTOVACUUM,
    Base,
    _created_at,
    _in,
    _uuid_pk,
)


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
        {"postgresql_with": QUEUE_AUTOVACUUM},
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
    """Each POST of a delivery and what came back: the partner's and the console's record of it (the
    retention period empties the excerpt, the rollups count it)."""

    __tablename__ = "delivery_attempts"
    __table_args__ = (
        CheckConstraint("attempt_number > 0", name="attempt_number"),
        CheckConstraint("duration_ms >= 0", name="duration_ms"),
        CheckConstraint("response_excerpt IS NULL OR length(response_excerpt) <= 2048", name="excerpt_cap"),
        UniqueConstraint(
            "delivery_id", "attempt_number", name="uq_delivery_attempts_delivery_id_attempt_number"
        ),
        # Recent attempts by time (revision 0004; the health and the per-minute chart read delivery_rollups).
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
