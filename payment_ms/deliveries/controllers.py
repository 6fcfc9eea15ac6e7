"""``/api/events`` and ``/api/deliveries`` (``shared.routes``; service token only): the gateway's
admin API reads them through its client."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody, PathParameter
from sqlalchemy.ext.asyncio import AsyncEngine

from payment_ms.deliveries import services
from payment_ms.deliveries.schemas import (
    Delivery,
    DeliveryDetail,
    DeliveryList,
    EventList,
    PartnerReplay,
    ReplayCount,
)
from payment_ms.dependencies import provide_engine
from payment_ms.dispatcher.replay import replay_delivery, replay_partner_deliveries
from shared import routes
from shared.queries import DeliveryFilter, EventFilter, query_dependency
from shared.security import requires_service_token

Engine = NamedDependency[AsyncEngine]
DeliveryId = Annotated[UUID, PathParameter(description="Delivery id")]


class EventController(Controller):
    path = "/"  # every route is a shared.routes template
    tags = ["events"]
    guards = [requires_service_token]
    dependencies = {"engine": Provide(provide_engine, sync_to_thread=False)}

    @get(
        routes.EVENTS,
        operation_id="listEvents",
        summary="Outbox events, newest first (cursor pagination)",
        dependencies={"filters": query_dependency(EventFilter)},
    )
    async def list_events(self, engine: Engine, filters: NamedDependency[EventFilter]) -> EventList:
        return await services.list_events(engine, **filters.as_kwargs())


class DeliveryController(Controller):
    path = "/"
    tags = ["deliveries"]
    guards = [requires_service_token]
    dependencies = {"engine": Provide(provide_engine, sync_to_thread=False)}

    @get(
        routes.DELIVERIES,
        operation_id="listDeliveries",
        summary="Webhook deliveries, newest first (cursor pagination)",
        dependencies={"filters": query_dependency(DeliveryFilter)},
    )
    async def list_deliveries(self, engine: Engine, filters: NamedDependency[DeliveryFilter]) -> DeliveryList:
        return await services.list_deliveries(engine, **filters.as_kwargs())

    @get(routes.DELIVERY, operation_id="getDelivery", summary="One delivery with every attempt")
    async def get_delivery(self, engine: Engine, delivery_id: DeliveryId) -> DeliveryDetail:
        return await services.get_delivery(engine, delivery_id)

    @post(
        routes.DELIVERY_REPLAY,
        operation_id="replayDelivery",
        summary="Send a delivery again now (409 while a worker holds it)",
        status_code=202,
    )
    async def replay_delivery(self, engine: Engine, delivery_id: DeliveryId) -> Delivery:
        return services.from_row(Delivery, await replay_delivery(engine, delivery_id))

    @post(
        routes.DELIVERIES_REPLAY,
        operation_id="replayPartnerDeliveries",
        summary="Send again every failed or canceled delivery of a partner created since a time",
        status_code=202,
    )
    async def replay_partner(self, engine: Engine, data: JSONBody[PartnerReplay]) -> ReplayCount:
        count = await replay_partner_deliveries(engine, data.partner_id, data.since)
        return ReplayCount(replayed=count)
