"""``/api/events`` and ``/api/deliveries`` (``shared.routes``; service token only): the gateway's
admin API reads them through its client."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody, PathParameter, QueryParameter
from sqlalchemy.ext.asyncio import AsyncEngine

from payment_ms.deliveries import services
from payment_ms.deliveries.schemas import (
    Delivery,
    DeliveryDetail,
    DeliveryList,
    Event,
    EventList,
    PartnerReplay,
    ReplayCount,
)
from payment_ms.dependencies import provide_dispatcher_settings, provide_engine
from payment_ms.dispatcher.replay import replay_delivery, replay_partner_deliveries
from payment_ms.dispatcher.settings import DispatcherSettings
from payment_ms.dispatcher.test_send import record_test_send, send_test_event
from payment_ms.openapi import INPUT, SECURITY, SERVICE, UNAVAILABLE
from shared import routes
from shared.contracts import (
    DeliveryStats,
    EventFeed,
    PartnerHealthList,
    SendTestEventRequest,
    SendTestEventResult,
)
from shared.jsonbody import strictly
from shared.problems import InvalidInputError, problem_responses
from shared.queries import DeliveryFilter, EventFilter, FeedQuery, HealthQuery, query_dependency
from shared.security import requires_service_token
from shared.webhooks import secret_key

Engine = NamedDependency[AsyncEngine]
DeliveryId = Annotated[UUID, PathParameter(description="Delivery id")]


class EventController(Controller):
    path = "/"  # every route is a shared.routes template
    tags = ["events"]
    guards = [requires_service_token]
    security = SECURITY
    dependencies = {"engine": Provide(provide_engine, sync_to_thread=False)}

    @get(
        routes.EVENTS,
        operation_id="listEvents",
        summary="Outbox events, newest first (cursor pagination)",
        dependencies={"filters": query_dependency(EventFilter)},
        responses=problem_responses(*INPUT, *SERVICE, *UNAVAILABLE),
    )
    async def list_events(self, engine: Engine, filters: NamedDependency[EventFilter]) -> EventList:
        return await services.list_events(engine, filters)

    @get(
        routes.EVENT_FEED,
        operation_id="eventFeed",
        summary="Events of the given types, oldest first after a cursor (a partner's pull feed)",
        dependencies={"feed_query": query_dependency(FeedQuery)},
        responses=problem_responses(*INPUT, *SERVICE, *UNAVAILABLE),
    )
    async def feed(self, engine: Engine, feed_query: NamedDependency[FeedQuery]) -> EventFeed:
        return await services.event_feed(engine, feed_query)

    @get(
        routes.EVENT,
        operation_id="getEvent",
        summary="One outbox event",
        responses=problem_responses(*INPUT, *SERVICE, 404, *UNAVAILABLE),
    )
    async def get_event(
        self, engine: Engine, event_id: Annotated[UUID, PathParameter(description="Event id")]
    ) -> Event:
        return await services.get_event(engine, event_id)


class DeliveryController(Controller):
    path = "/"
    tags = ["deliveries"]
    guards = [requires_service_token]
    security = SECURITY
    dependencies = {"engine": Provide(provide_engine, sync_to_thread=False)}

    @get(
        routes.DELIVERIES,
        operation_id="listDeliveries",
        summary="Webhook deliveries, newest first (cursor pagination)",
        dependencies={"filters": query_dependency(DeliveryFilter)},
        responses=problem_responses(*INPUT, *SERVICE, *UNAVAILABLE),
    )
    async def list_deliveries(self, engine: Engine, filters: NamedDependency[DeliveryFilter]) -> DeliveryList:
        return await services.list_deliveries(engine, filters)

    @get(
        routes.DELIVERY_STATS,
        operation_id="deliveryStats",
        summary="The queue now and attempts per minute",
        responses=problem_responses(*INPUT, *SERVICE, *UNAVAILABLE),
    )
    async def stats(
        self, engine: Engine, minutes: Annotated[int, QueryParameter(ge=1, le=1440)] = 60
    ) -> DeliveryStats:
        return await services.delivery_stats(engine, minutes=minutes)

    @get(
        routes.PARTNER_HEALTH,
        operation_id="partnerHealth",
        summary="Per partner: attempts, successes, p95 duration and the last failure (default: 24 h)",
        dependencies={"health_query": query_dependency(HealthQuery)},
        responses=problem_responses(*INPUT, *SERVICE, *UNAVAILABLE),
    )
    async def health(self, engine: Engine, health_query: NamedDependency[HealthQuery]) -> PartnerHealthList:
        since = health_query.since or datetime.now(UTC) - timedelta(hours=24)
        return await services.partner_health(engine, since=since, partner_ids=health_query.partner_id)

    @get(
        routes.DELIVERY,
        operation_id="getDelivery",
        summary="One delivery with every attempt",
        responses=problem_responses(*INPUT, *SERVICE, 404, *UNAVAILABLE),
    )
    async def get_delivery(self, engine: Engine, delivery_id: DeliveryId) -> DeliveryDetail:
        return await services.get_delivery(engine, delivery_id)

    @post(
        routes.DELIVERY_REPLAY,
        operation_id="replayDelivery",
        summary="Send a delivery again now (409 while a worker holds it)",
        status_code=202,
        responses=problem_responses(*INPUT, *SERVICE, 404, 409, *UNAVAILABLE),
    )
    async def replay_delivery(self, engine: Engine, delivery_id: DeliveryId) -> Delivery:
        return services.from_row(Delivery, await replay_delivery(engine, delivery_id))

    @post(
        routes.DELIVERIES_REPLAY,
        operation_id="replayPartnerDeliveries",
        summary="Send again a partner's failed (or with all, every finished) deliveries in [since, until)",
        status_code=202,
        responses=problem_responses(*INPUT, *SERVICE, 422, *UNAVAILABLE),
    )
    async def replay_partner(
        self, request: Request[Any, Any, Any], engine: Engine, data: JSONBody[PartnerReplay]
    ) -> ReplayCount:
        replay = await strictly(request, data)  # since=12345 is not a date-time
        count = await replay_partner_deliveries(
            engine, replay.partner_id, replay.since, replay.until, include_all=replay.all
        )
        return ReplayCount(replayed=count)


class TestSendController(Controller):
    """Sends an example event now, for the gateway's ``POST /admin/partners/{id}/test``."""

    path = "/"
    tags = ["deliveries"]
    guards = [requires_service_token]
    security = SECURITY
    dependencies = {
        "dispatcher_settings": Provide(provide_dispatcher_settings, sync_to_thread=False),
        "engine": Provide(provide_engine, sync_to_thread=False),
    }

    @post(
        routes.TEST_SENDS,
        operation_id="sendTestEvent",
        summary="Sign an example event and POST it to a partner's URL now; the answer is the attempt, "
        "stored as a test delivery of the partner",
        status_code=200,
        responses=problem_responses(*INPUT, *SERVICE, 422),
    )
    async def send(
        self,
        data: JSONBody[SendTestEventRequest],
        dispatcher_settings: NamedDependency[DispatcherSettings],
        engine: Engine,
    ) -> SendTestEventResult:
        try:
            for secret in data.secrets:
                secret_key(secret)
        except ValueError:
            raise InvalidInputError("secrets must be whsec_ secrets") from None
        sent = await send_test_event(
            data.url,
            data.secrets,
            data.type,
            settings=dispatcher_settings,
            allow_loopback=dispatcher_settings.loopback_allowed(dispatcher_settings.paygate.is_dev),
        )
        return await record_test_send(engine, data.partner_id, sent)
