"""Console pages of webhook deliveries across partners: failed and pending ones, one delivery with the
request it sends and every answer, and replaying it."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.console.access import requires_console_session
from gateway.console.payments import DEPENDENCIES, partner_names
from gateway.payments.client import PaymentMsClient
from gateway.web import repositories
from gateway.web.forms import parse_uuid
from gateway.web.pages import PAGE_HEADERS, page, webhook_body
from gateway.web.sessions import ConsoleSession, checked_form
from shared.contracts import DeliveryStatus
from shared.queries import DeliveryFilter


async def _payer_details(request: Request[Any, Any, Any], partner_id: uuid.UUID) -> bool:
    engine: AsyncEngine = request.app.state.db_engine
    async with engine.connect() as conn:
        return await repositories.payer_details(conn, partner_id)


class ConsoleDeliveriesController(Controller):
    path = "/deliveries"
    include_in_schema = False
    guards = [requires_console_session]
    dependencies = DEPENDENCIES

    @get("/", operation_id="consoleDeliveries")
    async def list_(
        self,
        request: Request[Any, Any, Any],
        console: NamedDependency[ConsoleSession],
        payment_ms: PaymentMsClient,
        status: Annotated[DeliveryStatus, QueryParameter()] = "failed",
        partner_id: Annotated[str | None, QueryParameter(max_length=40)] = None,
        cursor: Annotated[str | None, QueryParameter(max_length=200)] = None,
    ) -> Template:
        partner = parse_uuid(partner_id, "partner")
        listing = await payment_ms.list_deliveries(
            DeliveryFilter(status=status, partner_id=partner, cursor=cursor, limit=50)
        )
        return page(
            "console/deliveries.html",
            title="Deliveries",
            section="Deliveries",
            session=console,
            deliveries=listing.items,
            next_cursor=listing.next_cursor,
            status=status,
            partner_id=partner_id or "",
            partner_names=await partner_names(request),
        )

    @get("/{delivery_id:uuid}", operation_id="consoleDelivery")
    async def detail(
        self,
        request: Request[Any, Any, Any],
        console: NamedDependency[ConsoleSession],
        payment_ms: PaymentMsClient,
        delivery_id: uuid.UUID,
        done: Annotated[str | None, QueryParameter(max_length=20)] = None,
    ) -> Template:
        delivery = await payment_ms.get_delivery(delivery_id)
        event = await payment_ms.get_event(delivery.event_id)
        return page(
            "console/delivery.html",
            title=f"Delivery {delivery.id}",
            section="Deliveries",
            session=console,
            delivery=delivery,
            event=event,
            request_body=webhook_body(
                event, payer_details=await _payer_details(request, delivery.partner_id)
            ),
            partner_names=await partner_names(request),
            notice="Due again now: the dispatcher sends it within seconds." if done == "replayed" else None,
        )

    @post("/{delivery_id:uuid}/replay", operation_id="consoleReplayDelivery", status_code=303)
    async def replay(
        self,
        request: Request[Any, Any, Any],
        console: NamedDependency[ConsoleSession],
        payment_ms: PaymentMsClient,
        delivery_id: uuid.UUID,
    ) -> Response[Any]:
        await checked_form(request, console.csrf_token)
        await payment_ms.replay_delivery(delivery_id)
        return Redirect(
            f"/console/deliveries/{delivery_id}?done=replayed", status_code=303, headers=PAGE_HEADERS
        )
