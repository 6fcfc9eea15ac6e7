"""``/admin/events``, ``/admin/deliveries``: the outbox and the dispatcher's records, kept by
payment_ms and read through its client (admins only)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter

from gateway.auth.audiences import AdminController
from gateway.deliveries.schemas import ReplayWindow
from gateway.dependencies import DbSession, strictly
from gateway.partners.schemas import PartnerId
from gateway.partners.services import test_send_request
from gateway.payments.dependencies import PaymentMs
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
from shared.operations import operation
from shared.queries import DeliveryFilter, EventFilter, query_dependency

DeliveryId = Annotated[UUID, PathParameter(description="Delivery id")]
REPLAY_DELIVERY = "/deliveries/{delivery_id:uuid}/replay"
REPLAY_PARTNER = "/partners/{partner_id:uuid}/deliveries/replay"


class AdminDeliveriesController(AdminController):
    path = "/admin"
    tags = ["admin: webhooks"]
    dependencies = {
        "filters": query_dependency(EventFilter),
        "delivery_filters": query_dependency(DeliveryFilter),
    }

    @operation(get, "/events", "adminListEvents", LIST_ERRORS)
    async def events(self, payment_ms: PaymentMs, filters: NamedDependency[EventFilter]) -> EventList:
        """Outbox events, newest first (cursor pagination)"""
        return await payment_ms.list_events(filters)

    @operation(get, "/deliveries", "adminListDeliveries", LIST_ERRORS)
    async def deliveries(
        self, payment_ms: PaymentMs, delivery_filters: NamedDependency[DeliveryFilter]
    ) -> DeliveryList:
        """Webhook deliveries, newest first (cursor pagination)"""
        return await payment_ms.list_deliveries(delivery_filters)

    @operation(get, "/deliveries/{delivery_id:uuid}", "adminGetDelivery", ADMIN_ERRORS)
    async def delivery(self, delivery_id: DeliveryId, payment_ms: PaymentMs) -> DeliveryDetail:
        """One delivery with its attempts"""
        return await payment_ms.get_delivery(delivery_id)

    @operation(post, REPLAY_DELIVERY, "adminReplayDelivery", (*ADMIN_ERRORS, 409), status_code=202)
    async def replay(self, delivery_id: DeliveryId, payment_ms: PaymentMs) -> Delivery:
        """Deliver again now (409 while a dispatcher is sending it)"""
        return await payment_ms.replay_delivery(delivery_id)

    @operation(post, REPLAY_PARTNER, "adminReplayPartnerDeliveries", ADMIN_ERRORS, status_code=202)
    async def replay_partner(
        self, request: Request, partner_id: PartnerId, data: JSONBody[ReplayWindow], payment_ms: PaymentMs
    ) -> ReplayCount:
        """Deliver again a partner's failed and canceled deliveries created in [since, until)

        until defaults to now; all=true replays the succeeded ones too (a partner that lost its own data).
        Pending deliveries are on their way and are left alone.
        """
        window = await strictly(request, data)
        replay = PartnerReplay(partner_id=partner_id, since=window.since, until=window.until, all=window.all)
        return await payment_ms.replay_partner_deliveries(replay)

    @operation(post, "/partners/{partner_id:uuid}/test", "adminSendTestEvent", ADMIN_ERRORS, status_code=200)
    async def send_test(
        self,
        request: Request,
        partner_id: PartnerId,
        db_session: DbSession,
        payment_ms: PaymentMs,
        data: JSONBody[SendTestEvent | None] = None,
    ) -> SendTestEventResult:
        """Send the partner a signed example event now; the answer is the attempt

        Status, duration, the first 2 KB of the answer and the error, as a delivery attempt records them,
        and delivery_id: the test delivery it is stored as (marked test; never sent again, not counted in
        the health figures, not in the pull feed). webhook-id is test_<event id>. The body may name the
        event type (default payment.succeeded). A disabled partner can be tested too.
        """
        body = await strictly(request, data) if data is not None else SendTestEvent()
        async with db_session.begin():
            test = await test_send_request(db_session, partner_id, body.type)
        return await payment_ms.send_test_event(test)
