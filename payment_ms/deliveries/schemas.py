"""Answers of the events/deliveries API (the gateway's admin API passes them through unchanged)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import msgspec

from shared.contracts import EventType

DeliveryStatus = Literal["pending", "succeeded", "failed", "canceled"]


class Event(msgspec.Struct, kw_only=True):
    id: UUID
    payment_id: UUID
    type: EventType
    data: dict[str, Any]
    request_id: str | None
    created_at: datetime
    fanned_out_at: datetime | None


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
    due_at: datetime
    leased_by: str | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
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
    """``POST /api/deliveries/replay``: every failed or canceled delivery of the partner since a time."""

    partner_id: UUID
    since: datetime


class ReplayCount(msgspec.Struct, kw_only=True):
    replayed: int
