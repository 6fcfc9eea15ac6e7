"""Answers of the events/deliveries API: shared contracts (the gateway's admin API passes them through
unchanged and documents them); the partner replay body is payment_ms's own."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec

from shared.contracts import (
    Attempt,
    Delivery,
    DeliveryDetail,
    DeliveryList,
    DeliveryStatus,
    Event,
    EventList,
    ReplayCount,
)

__all__ = [
    "Attempt",
    "Delivery",
    "DeliveryDetail",
    "DeliveryList",
    "DeliveryStatus",
    "Event",
    "EventList",
    "PartnerReplay",
    "ReplayCount",
]


class PartnerReplay(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``POST /api/deliveries/replay``: a partner's failed and canceled deliveries created in
    ``[since, until)`` (no ``until``: up to now), or with ``all`` every finished one."""

    partner_id: UUID
    since: datetime
    until: datetime | None = None
    all: bool = False
