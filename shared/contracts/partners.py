"""What the gateway's internal API tells the dispatcher about partners, and its operational events."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec


class PartnerTarget(msgspec.Struct, kw_only=True):
    """One entry of the gateway's ``GET /internal/partners?event_type=…`` (service token only).

    ``secrets`` holds every secret that signs right now: the current one first, then every retired one
    still inside its rotation overlap. Each yields one ``v1,<sig>`` in ``webhook-signature``.
    ``enabled`` is false for a disabled partner (listed with ``include_disabled=true`` only): its waiting
    deliveries are held, not sent. ``ordered``: a payment's later event waits for its earlier one.
    ``max_requests_per_second``: the most this partner receives from one dispatcher (None: no limit).
    """

    id: UUID
    url: str
    secrets: list[str]
    payer_details: bool = False  # its webhooks carry the payer's email and name
    enabled: bool = True
    ordered: bool = False
    max_requests_per_second: int | None = None


class PartnerTargetList(msgspec.Struct, kw_only=True):
    items: list[PartnerTarget]


OperationalEventType = Literal["endpoint.disabled", "endpoint.enabled", "endpoint.secret_rotated"]


class OperationalEvent(msgspec.Struct, kw_only=True):
    """An ``endpoint.*`` event as the gateway records it (``GET /internal/operational-events``); the
    dispatcher sends ``{"type", "timestamp", "data"}`` to the operator's endpoint, ``webhook-id`` = ``id``.
    """

    id: UUID
    type: OperationalEventType
    partner_id: UUID
    data: dict[str, Any]
    created_at: datetime


class OperationalEventList(msgspec.Struct, kw_only=True):
    items: list[OperationalEvent]


class OperationalEventsProcessed(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``POST /internal/operational-events/processed``: these were sent (or given up on) and logged."""

    ids: Annotated[list[UUID], msgspec.Meta(max_length=500)]
