"""Bodies and answers of the events/deliveries API: shared contracts (the gateway's admin API calls
them through its typed client and documents them)."""

from __future__ import annotations

from shared.contracts import (
    Attempt,
    Delivery,
    DeliveryDetail,
    DeliveryList,
    DeliveryStatus,
    Event,
    EventList,
    PartnerReplay,
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
