"""What the operator console and the partner portal read from payment_ms."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from shared.contracts.types import EventType


class MinuteOutcomes(msgspec.Struct, kw_only=True):
    minute: datetime  # the start of one UTC minute
    succeeded: int  # attempts answered 2xx
    failed: int  # every other attempt


class DeliveryStats(msgspec.Struct, kw_only=True):
    """``GET /api/deliveries/stats``: the queue now and the attempts of the last ``minutes``."""

    pending: int  # deliveries waiting (due or scheduled)
    due: int  # of which due now
    oldest_due_seconds: float | None  # age of the oldest due delivery, None when nothing is due
    minutes: list[MinuteOutcomes]  # oldest first, only minutes with attempts


class PartnerHealth(msgspec.Struct, kw_only=True):
    partner_id: UUID
    attempts: int
    succeeded: int
    p95_ms: int | None
    last_failure_at: datetime | None
    last_failure: str | None  # the status code or the error of the last failed attempt


class PartnerHealthList(msgspec.Struct, kw_only=True):
    """``GET /api/deliveries/health``: per partner, the attempts since ``since``."""

    since: datetime
    items: list[PartnerHealth]


class FeedEvent(msgspec.Struct, kw_only=True):
    id: UUID
    type: EventType
    created_at: datetime
    data: dict[str, Any]


class EventFeed(msgspec.Struct, kw_only=True):
    """``GET /api/events/feed`` and a partner's ``GET /partner/v1/events``: oldest first after a cursor;
    ``next_cursor`` is where the next poll starts (the same cursor again when nothing new came)."""

    items: list[FeedEvent]
    next_cursor: str | None
    has_more: bool
