"""``/api/events`` and ``/api/deliveries`` (service token only; the gateway's admin API forwards here)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated
from uuid import UUID

from litestar import Controller, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery, JSONBody, PathParameter, QueryParameter
from sqlalchemy.ext.asyncio import AsyncEngine

from payment_ms.deliveries import services
from payment_ms.deliveries.schemas import (
    Delivery,
    DeliveryDetail,
    DeliveryList,
    DeliveryStatus,
    Event,
    EventList,
    PartnerReplay,
    ReplayCount,
)
from payment_ms.dependencies import provide_engine
from payment_ms.dispatcher.replay import replay_delivery, replay_partner_deliveries
from payment_ms.guards import require_service_token
from shared.contracts import DeliveryStats, EventFeed, EventType, PartnerHealthList

Engine = NamedDependency[AsyncEngine]
CreatedFrom = Annotated[datetime | None, QueryParameter(description="Inclusive lower bound on created_at")]
CreatedTo = Annotated[datetime | None, QueryParameter(description="Exclusive upper bound on created_at")]
Cursor = Annotated[str | None, QueryParameter(max_length=200, description="next_cursor of the previous page")]
Limit = Annotated[int, QueryParameter(ge=1, le=200)]
DeliveryId = Annotated[UUID, PathParameter(description="Delivery id")]


class EventController(Controller):
    path = "/api/events"
    tags = ["events"]
    guards = [require_service_token]
    dependencies = {"engine": Provide(provide_engine, sync_to_thread=False)}

    @get("/", operation_id="listEvents", summary="Outbox events, newest first (cursor pagination)")
    async def list_events(
        self,
        engine: Engine,
        payment_id: FromQuery[UUID | None] = None,
        event_type: Annotated[EventType | None, QueryParameter(name="type")] = None,
        created_from: CreatedFrom = None,
        created_to: CreatedTo = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> EventList:
        return await services.list_events(
            engine,
            payment_id=payment_id,
            event_type=event_type,
            created_from=created_from,
            created_to=created_to,
            cursor=cursor,
            limit=limit,
        )

    @get(
        "/feed",
        operation_id="eventFeed",
        summary="Events of the given types, oldest first after a cursor (a partner's pull feed)",
    )
    async def feed(
        self,
        engine: Engine,
        event_types: Annotated[list[EventType], QueryParameter(name="type", min_items=1)],
        created_from: CreatedFrom = None,
        settle_seconds: Annotated[float, QueryParameter(ge=0, le=60)] = 2.0,
        after: Cursor = None,
        limit: Limit = 50,
    ) -> EventFeed:
        return await services.event_feed(
            engine,
            types=event_types,
            created_from=created_from,
            settle_seconds=settle_seconds,
            cursor=after,
            limit=limit,
        )

    @get("/{event_id:uuid}", operation_id="getEvent", summary="One outbox event")
    async def get_event(
        self, engine: Engine, event_id: Annotated[UUID, PathParameter(description="Event id")]
    ) -> Event:
        return await services.get_event(engine, event_id)


class DeliveryController(Controller):
    path = "/api/deliveries"
    tags = ["deliveries"]
    guards = [require_service_token]
    dependencies = {"engine": Provide(provide_engine, sync_to_thread=False)}

    @get("/", operation_id="listDeliveries", summary="Webhook deliveries, newest first (cursor pagination)")
    async def list_deliveries(
        self,
        engine: Engine,
        status: FromQuery[DeliveryStatus | None] = None,
        partner_id: FromQuery[UUID | None] = None,
        event_id: FromQuery[UUID | None] = None,
        payment_id: FromQuery[UUID | None] = None,
        created_from: CreatedFrom = None,
        created_to: CreatedTo = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> DeliveryList:
        return await services.list_deliveries(
            engine,
            status=status,
            partner_id=partner_id,
            event_id=event_id,
            payment_id=payment_id,
            created_from=created_from,
            created_to=created_to,
            cursor=cursor,
            limit=limit,
        )

    @get("/stats", operation_id="deliveryStats", summary="The queue now and attempts per minute")
    async def stats(
        self, engine: Engine, minutes: Annotated[int, QueryParameter(ge=1, le=1440)] = 60
    ) -> DeliveryStats:
        return await services.delivery_stats(engine, minutes=minutes)

    @get(
        "/health", operation_id="partnerHealth", summary="Per partner: attempts, successes, p95, last failure"
    )
    async def health(
        self,
        engine: Engine,
        since: Annotated[datetime | None, QueryParameter(description="Default: 24 hours ago")] = None,
        partner_id: Annotated[list[UUID] | None, QueryParameter(max_items=500)] = None,
    ) -> PartnerHealthList:
        since = since or datetime.now(UTC) - timedelta(hours=24)
        return await services.partner_health(engine, since=since, partner_ids=partner_id)

    @get("/{delivery_id:uuid}", operation_id="getDelivery", summary="One delivery with every attempt")
    async def get_delivery(self, engine: Engine, delivery_id: DeliveryId) -> DeliveryDetail:
        return await services.get_delivery(engine, delivery_id)

    @post(
        "/{delivery_id:uuid}/replay",
        operation_id="replayDelivery",
        summary="Send a delivery again now (409 while a worker holds it)",
        status_code=202,
    )
    async def replay_delivery(self, engine: Engine, delivery_id: DeliveryId) -> Delivery:
        return services.from_row(Delivery, await replay_delivery(engine, delivery_id))

    @post(
        "/replay",
        operation_id="replayPartnerDeliveries",
        summary="Send again every failed or canceled delivery of a partner created since a time",
        status_code=202,
    )
    async def replay_partner(self, engine: Engine, data: JSONBody[PartnerReplay]) -> ReplayCount:
        count = await replay_partner_deliveries(engine, data.partner_id, data.since)
        return ReplayCount(replayed=count)
