"""``/admin/events``, ``/admin/deliveries``: the outbox and the dispatcher's records, kept by
payment_ms and read through its client (admins only)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.auth.guards import requires_admin
from gateway.deliveries.schemas import ReplayWindow
from gateway.dependencies import strictly
from gateway.partners.services import test_send_request
from gateway.payments.client import PaymentMsClient
from gateway.payments.params import ADMIN_ERRORS, LIST_ERRORS
from shared.contracts import (
    Delivery,
    DeliveryDetail,
    DeliveryList,
    EventList,
    PartnerReplay,
    ReplayCount,
    SendTestEvent,
    SendTestEventResult,
)
from shared.problems import problem_responses
from shared.queries import DeliveryFilter, EventFilter, query_dependency

DeliveryId = Annotated[UUID, Parameter(description="Delivery id")]
PartnerId = Annotated[UUID, Parameter(description="Partner id")]


class AdminDeliveriesController(Controller):
    path = "/admin"
    tags = ["admin: webhooks"]
    guards = [requires_admin]
    security = [{"BearerToken": []}]

    @get(
        "/events",
        operation_id="adminListEvents",
        summary="Outbox events, newest first (cursor pagination)",
        dependencies={"filters": query_dependency(EventFilter)},
        responses=problem_responses(*LIST_ERRORS),
    )
    async def events(self, payment_ms: PaymentMsClient, filters: NamedDependency[EventFilter]) -> EventList:
        return await payment_ms.list_events(filters)

    @get(
        "/deliveries",
        operation_id="adminListDeliveries",
        summary="Webhook deliveries, newest first (cursor pagination)",
        dependencies={"filters": query_dependency(DeliveryFilter)},
        responses=problem_responses(*LIST_ERRORS),
    )
    async def deliveries(
        self, payment_ms: PaymentMsClient, filters: NamedDependency[DeliveryFilter]
    ) -> DeliveryList:
        return await payment_ms.list_deliveries(filters)

    @get(
        "/deliveries/{delivery_id:uuid}",
        operation_id="adminGetDelivery",
        summary="One delivery with its attempts",
        responses=problem_responses(*ADMIN_ERRORS),
    )
    async def delivery(self, delivery_id: DeliveryId, payment_ms: PaymentMsClient) -> DeliveryDetail:
        return await payment_ms.get_delivery(delivery_id)

    @post(
        "/deliveries/{delivery_id:uuid}/replay",
        operation_id="adminReplayDelivery",
        summary="Deliver again now (409 while a dispatcher is sending it)",
        status_code=202,
        responses=problem_responses(*ADMIN_ERRORS, 409),
    )
    async def replay(self, delivery_id: DeliveryId, payment_ms: PaymentMsClient) -> Delivery:
        return await payment_ms.replay_delivery(delivery_id)

    @post(
        "/partners/{partner_id:uuid}/deliveries/replay",
        operation_id="adminReplayPartnerDeliveries",
        summary="Deliver again a partner's failed and canceled deliveries created in [since, until)",
        description="until defaults to now; all=true replays the succeeded ones too (a partner that "
        "lost its own data). Pending deliveries are on their way and are left alone.",
        status_code=202,
        responses=problem_responses(*ADMIN_ERRORS),
    )
    async def replay_partner(
        self,
        request: Request[Any, Any, Any],
        partner_id: PartnerId,
        data: ReplayWindow,
        payment_ms: PaymentMsClient,
    ) -> ReplayCount:
        window = await strictly(request, data)
        replay = PartnerReplay(partner_id=partner_id, since=window.since, until=window.until, all=window.all)
        return await payment_ms.replay_partner_deliveries(replay)

    @post(
        "/partners/{partner_id:uuid}/test",
        operation_id="adminSendTestEvent",
        summary="Send the partner a signed example event now; the answer is the attempt",
        description="Status, duration, the first 2 KB of the answer and the error, as a delivery attempt "
        "records them, and delivery_id: the test delivery it is stored as (marked test; never sent again, "
        "not counted in the health figures, not in the pull feed). webhook-id is test_<event id>. The body "
        "may name the event type "
        "(default payment.succeeded). A disabled partner can be tested too.",
        status_code=200,
        responses=problem_responses(*ADMIN_ERRORS),
    )
    async def send_test(
        self,
        request: Request[Any, Any, Any],
        partner_id: PartnerId,
        db_session: AsyncSession,
        payment_ms: PaymentMsClient,
        data: SendTestEvent | None = None,
    ) -> SendTestEventResult:
        body = await strictly(request, data) if data is not None else SendTestEvent()
        async with db_session.begin():
            test = await test_send_request(db_session, partner_id, body.type)
        return await payment_ms.send_test_event(test)
