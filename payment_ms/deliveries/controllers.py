"""``/api/events`` and ``/api/deliveries`` (``shared.routes``; service token only): the gateway's
admin API reads them through its client."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

from litestar import Request, get, post
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
from payment_ms.dependencies import provide_dispatcher_settings
from payment_ms.dispatcher.replay import replay_delivery, replay_partner_deliveries
from payment_ms.dispatcher.settings import DispatcherSettings
from payment_ms.dispatcher.test_send import record_test_send, send_test_event
from payment_ms.openapi import INPUT, READ, READ_ONE, SERVICE, UNAVAILABLE
from shared import routes
from shared.contracts import (
    DeliveryStats,
    EventFeed,
    PartnerHealthList,
    SendTestEventRequest,
    SendTestEventResult,
)
from shared.jsonbody import strictly
from shared.operations import ServiceTokenController, operation
from shared.problems import InvalidInputError
from shared.queries import DeliveryFilter, EventFilter, FeedQuery, HealthQuery, query_dependency
from shared.webhooks import secret_key

Engine = NamedDependency[AsyncEngine]
DeliveryId = Annotated[UUID, PathParameter(description="Delivery id")]


class EventController(ServiceTokenController):
    path = "/"  # every route is a shared.routes template
    tags = ["events"]
    dependencies = {"filters": query_dependency(EventFilter), "feed_query": query_dependency(FeedQuery)}

    @operation(get, routes.EVENTS, "listEvents", READ)
    async def list_events(self, engine: Engine, filters: NamedDependency[EventFilter]) -> EventList:
        """Outbox events, newest first (cursor pagination)"""
        return await services.list_events(engine, filters)

    @operation(get, routes.EVENT_FEED, "eventFeed", READ)
    async def feed(self, engine: Engine, feed_query: NamedDependency[FeedQuery]) -> EventFeed:
        """Events of the given types, oldest first after a cursor (a partner's pull feed)"""
        return await services.event_feed(engine, feed_query)

    @operation(get, routes.EVENT, "getEvent", READ_ONE)
    async def get_event(
        self, engine: Engine, event_id: Annotated[UUID, PathParameter(description="Event id")]
    ) -> Event:
        """One outbox event"""
        return await services.get_event(engine, event_id)


class DeliveryController(ServiceTokenController):
    path = "/"
    tags = ["deliveries"]
    dependencies = {
        "filters": query_dependency(DeliveryFilter),
        "health_query": query_dependency(HealthQuery),
    }

    @operation(get, routes.DELIVERIES, "listDeliveries", READ)
    async def list_deliveries(self, engine: Engine, filters: NamedDependency[DeliveryFilter]) -> DeliveryList:
        """Webhook deliveries, newest first (cursor pagination)"""
        return await services.list_deliveries(engine, filters)

    @operation(get, routes.DELIVERY_STATS, "deliveryStats", READ)
    async def stats(
        self, engine: Engine, minutes: Annotated[int, QueryParameter(ge=1, le=1440)] = 60
    ) -> DeliveryStats:
        """The queue now and attempts per minute"""
        return await services.delivery_stats(engine, minutes=minutes)

    @operation(get, routes.PARTNER_HEALTH, "partnerHealth", READ)
    async def health(self, engine: Engine, health_query: NamedDependency[HealthQuery]) -> PartnerHealthList:
        """Per partner: attempts, successes, p95 duration and the last failure (default: 24 h)"""
        since = health_query.since or datetime.now(UTC) - timedelta(hours=24)
        return await services.partner_health(engine, since=since, partner_ids=health_query.partner_id)

    @operation(get, routes.DELIVERY, "getDelivery", READ_ONE)
    async def get_delivery(self, engine: Engine, delivery_id: DeliveryId) -> DeliveryDetail:
        """One delivery with every attempt"""
        return await services.get_delivery(engine, delivery_id)

    @operation(
        post,
        routes.DELIVERY_REPLAY,
        "replayDelivery",
        (*INPUT, *SERVICE, 404, 409, *UNAVAILABLE),
        status_code=202,
    )
    async def replay_delivery(self, engine: Engine, delivery_id: DeliveryId) -> Delivery:
        """Send a delivery again now (409 while a worker holds it)"""
        return services.from_row(Delivery, await replay_delivery(engine, delivery_id))

    @operation(
        post,
        routes.DELIVERIES_REPLAY,
        "replayPartnerDeliveries",
        (*INPUT, *SERVICE, 422, *UNAVAILABLE),
        status_code=202,
    )
    async def replay_partner(
        self, request: Request[Any, Any, Any], engine: Engine, data: JSONBody[PartnerReplay]
    ) -> ReplayCount:
        """Send again a partner's failed (or with all, every finished) deliveries in [since, until)"""
        replay = await strictly(request, data)  # since=12345 is not a date-time
        count = await replay_partner_deliveries(
            engine, replay.partner_id, replay.since, replay.until, include_all=replay.all
        )
        return ReplayCount(replayed=count)


class TestSendController(ServiceTokenController):
    """Sends an example event now, for the gateway's ``POST /admin/partners/{id}/test``."""

    path = "/"
    tags = ["deliveries"]
    dependencies = {"dispatcher_settings": Provide(provide_dispatcher_settings, sync_to_thread=False)}

    @operation(post, routes.TEST_SENDS, "sendTestEvent", (*INPUT, *SERVICE, 422), status_code=200)
    async def send(
        self,
        data: JSONBody[SendTestEventRequest],
        dispatcher_settings: NamedDependency[DispatcherSettings],
        engine: Engine,
    ) -> SendTestEventResult:
        """Sign an example event and POST it to a partner's URL now; the answer is the attempt, stored as a
        test delivery of the partner
        """
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
