"""The events/deliveries API of payment_ms (the gateway's admin API passes it through)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec

from shared.contracts.types import EventSource, EventType, Moment, Url, WebhookSecret

DeliveryStatus = Literal["pending", "succeeded", "failed", "canceled"]


class Event(msgspec.Struct, kw_only=True):
    id: UUID
    payment_id: UUID | None  # None: a test send's example event (in no list, only behind its delivery)
    type: EventType
    sequence: int
    data: dict[str, Any] | None  # None once purged by the retention period (``purged_at``)
    request_id: str | None
    source: EventSource | None  # what made it happen; None for events older than the column
    created_at: datetime
    fanned_out_at: datetime | None
    purged_at: datetime | None


class EventList(msgspec.Struct, kw_only=True):
    items: list[Event]
    next_cursor: str | None


class Delivery(msgspec.Struct, kw_only=True):
    id: UUID
    event_id: UUID
    partner_id: UUID
    url: str
    status: DeliveryStatus
    attempt_count: int
    throttled_count: int  # attempts answered 429: they do not use up the retry schedule
    due_at: datetime
    held: Literal["ordering", "disabled"] | None  # why a pending delivery waits
    leased_by: str | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    test: bool  # a test send: written finished, never sent again
    created_at: datetime
    updated_at: datetime


class DeliveryList(msgspec.Struct, kw_only=True):
    items: list[Delivery]
    next_cursor: str | None


class Attempt(msgspec.Struct, kw_only=True):
    attempt_number: int
    started_at: datetime
    duration_ms: int
    status_code: int | None
    response_excerpt: str | None
    error: str | None
    worker: str | None


class DeliveryDetail(Delivery, kw_only=True):
    event_type: EventType
    attempts: list[Attempt]


class PartnerReplay(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``POST /api/deliveries/replay``: a partner's failed and canceled deliveries created in
    ``[since, until)`` (no ``until``: up to now), or with ``all`` every finished one (succeeded too: a
    partner that lost its own data). Pending ones are on their way and are left alone."""

    partner_id: UUID
    since: Moment
    until: Moment | None = None
    all: bool = False


class ReplayCount(msgspec.Struct, kw_only=True):
    replayed: int


class SendTestEvent(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``POST /admin/partners/{id}/test``: which example event to send (default ``payment.succeeded``)."""

    type: EventType = "payment.succeeded"


class SendTestEventRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """payment_ms's ``POST /api/test-sends`` (the gateway forwards a partner's url and secrets); the
    test delivery is stored as the partner's."""

    partner_id: UUID
    url: Url
    secrets: Annotated[list[WebhookSecret], msgspec.Meta(min_length=1, max_length=50)]
    type: EventType = "payment.succeeded"


class SendTestEventResult(msgspec.Struct, kw_only=True):
    """The one attempt of a test send: the same fields as a delivery attempt; ``delivery_id`` is the
    test delivery it was stored as (marked ``test``: never sent again, not in the health figures)."""

    webhook_id: str
    type: EventType
    url: str
    delivered: bool
    status_code: int | None
    duration_ms: int
    response_excerpt: str | None
    error: str | None
    delivery_id: UUID | None = None
