"""The console's and the portal's reads and commands against payment_ms's API, typed with the shared
contracts. They never touch payment_ms's tables: every figure here is an answer of its API."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import TypeVar

import msgspec

from gateway.payments.client import BadGatewayError, PaymentMsClient, QueryParams
from gateway.payments.services import ensure_ok
from shared.contracts import (
    DailyPaymentStats,
    Delivery,
    DeliveryDetail,
    DeliveryList,
    DeliveryStats,
    Event,
    EventFeed,
    EventList,
    PartnerHealthList,
    Payment,
    PaymentList,
    ReplayCount,
)
from shared.problems import NotFoundError

T = TypeVar("T")


def _params(**values: object) -> list[tuple[str, str]]:
    params: list[tuple[str, str]] = []
    for name, value in values.items():
        if value is None or value == "":
            continue
        for item in value if isinstance(value, list | tuple) else [value]:
            text = item.isoformat() if isinstance(item, date | datetime) else str(item)
            params.append((name, text))
    return params


async def _get(client: PaymentMsClient, path: str, kind: type[T], params: QueryParams = None) -> T:
    answer = await client.request("GET", path, params=params)
    if answer.status == 404:
        raise NotFoundError("Not found.")
    try:
        return msgspec.json.decode(ensure_ok(answer).body, type=kind)
    except msgspec.ValidationError:
        raise BadGatewayError("The payment service answered something unexpected.") from None


async def list_payments(
    client: PaymentMsClient,
    *,
    status: str | None = None,
    provider: str | None = None,
    user_id: uuid.UUID | None = None,
    reservation_id: uuid.UUID | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    amount_min: int | None = None,
    amount_max: int | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> PaymentList:
    params = _params(
        status=status,
        provider=provider,
        user_id=user_id,
        reservation_id=reservation_id,
        created_from=created_from,
        created_to=created_to,
        amount_min=amount_min,
        amount_max=amount_max,
        cursor=cursor,
        limit=limit,
    )
    return await _get(client, "/api/payments", PaymentList, params)


async def get_payment(client: PaymentMsClient, payment_id: uuid.UUID) -> Payment:
    return await _get(client, f"/api/payments/{payment_id}", Payment)


async def payment_events(client: PaymentMsClient, payment_id: uuid.UUID, limit: int = 200) -> EventList:
    return await _get(client, "/api/events", EventList, _params(payment_id=payment_id, limit=limit))


async def get_event(client: PaymentMsClient, event_id: uuid.UUID) -> Event:
    return await _get(client, f"/api/events/{event_id}", Event)


def webhook_body(event: Event) -> str:
    """The body a delivery of ``event`` sends (formatted for reading: the bytes sent are compact)."""
    body = {"type": event.type, "timestamp": event.created_at, "data": event.data}
    return msgspec.json.format(msgspec.json.encode(body), indent=2).decode()


async def list_deliveries(
    client: PaymentMsClient,
    *,
    status: str | None = None,
    partner_id: uuid.UUID | None = None,
    payment_id: uuid.UUID | None = None,
    event_id: uuid.UUID | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> DeliveryList:
    params = _params(
        status=status,
        partner_id=partner_id,
        payment_id=payment_id,
        event_id=event_id,
        cursor=cursor,
        limit=limit,
    )
    return await _get(client, "/api/deliveries", DeliveryList, params)


async def get_delivery(client: PaymentMsClient, delivery_id: uuid.UUID) -> DeliveryDetail:
    return await _get(client, f"/api/deliveries/{delivery_id}", DeliveryDetail)


async def replay_delivery(client: PaymentMsClient, delivery_id: uuid.UUID) -> Delivery:
    answer = await client.request("POST", f"/api/deliveries/{delivery_id}/replay", retry=False)
    if answer.status == 404:
        raise NotFoundError("No such delivery.")
    return msgspec.json.decode(ensure_ok(answer).body, type=Delivery)


async def replay_window(client: PaymentMsClient, partner_id: uuid.UUID, since: datetime) -> ReplayCount:
    answer = await client.request(
        "POST",
        "/api/deliveries/replay",
        json={"partner_id": str(partner_id), "since": since.isoformat()},
        retry=False,
    )
    return msgspec.json.decode(ensure_ok(answer).body, type=ReplayCount)


async def delivery_stats(client: PaymentMsClient, minutes: int = 60) -> DeliveryStats:
    return await _get(client, "/api/deliveries/stats", DeliveryStats, _params(minutes=minutes))


async def partner_health(
    client: PaymentMsClient, partner_ids: Sequence[uuid.UUID] | None = None
) -> PartnerHealthList:
    params = _params(partner_id=list(partner_ids) if partner_ids is not None else None)
    return await _get(client, "/api/deliveries/health", PartnerHealthList, params)


async def daily_stats(client: PaymentMsClient, day_from: date, day_to: date) -> DailyPaymentStats:
    params = [("from", day_from.isoformat()), ("to", day_to.isoformat())]
    return await _get(client, "/api/payments/stats/daily", DailyPaymentStats, params)


async def event_feed(
    client: PaymentMsClient,
    *,
    types: Sequence[str],
    created_from: datetime | None,
    settle_seconds: float,
    after: str | None,
    limit: int,
) -> EventFeed:
    params = _params(
        type=list(types), created_from=created_from, settle_seconds=settle_seconds, after=after, limit=limit
    )
    return await _get(client, "/api/events/feed", EventFeed, params)
