"""``/api/events`` and ``/api/deliveries`` (service token only; the gateway's admin API forwards here)."""

from __future__ import annotations

from datetime import datetime
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
    EventList,
    PartnerReplay,
    ReplayCount,
)
from payment_ms.dependencies import provide_dispatcher_settings, provide_engine
from payment_ms.dispatcher.replay import replay_delivery, replay_partner_deliveries
from payment_ms.dispatcher.settings import DispatcherSettings
from payment_ms.dispatcher.test_send import send_test_event
from payment_ms.guards import require_service_token
from shared.contracts import EventType, SendTestEventRequest, SendTestEventResult
from shared.problems import InvalidInputError
from shared.settings import get_paygate_settings
from shared.webhooks import secret_key

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
            created_from=created_from,
            created_to=created_to,
            cursor=cursor,
            limit=limit,
        )

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
        summary="Send again a partner's failed (or with all, every finished) deliveries in [since, until)",
        status_code=202,
    )
    async def replay_partner(self, engine: Engine, data: JSONBody[PartnerReplay]) -> ReplayCount:
        count = await replay_partner_deliveries(
            engine, data.partner_id, data.since, data.until, include_all=data.all
        )
        return ReplayCount(replayed=count)


class TestSendController(Controller):
    """Sends an example event now, for the gateway's ``POST /admin/partners/{id}/test``."""

    path = "/api/test-sends"
    tags = ["deliveries"]
    guards = [require_service_token]
    dependencies = {"dispatcher_settings": Provide(provide_dispatcher_settings, sync_to_thread=False)}

    @post(
        "/",
        operation_id="sendTestEvent",
        summary="Sign an example event and POST it to a URL now; the answer is the attempt",
        status_code=200,
    )
    async def send(
        self, data: JSONBody[SendTestEventRequest], dispatcher_settings: NamedDependency[DispatcherSettings]
    ) -> SendTestEventResult:
        try:
            for secret in data.secrets:
                secret_key(secret)
        except ValueError:
            raise InvalidInputError("secrets must be whsec_ secrets") from None
        return await send_test_event(
            data.url,
            data.secrets,
            data.type,
            settings=dispatcher_settings,
            allow_loopback=dispatcher_settings.loopback_allowed(get_paygate_settings().is_dev),
        )
