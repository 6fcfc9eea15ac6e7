"""Console pages of webhook deliveries across partners: failed and pending ones, one delivery with the
request it sends and every answer, and replaying it."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.console.access import ConsolePages
from gateway.console.payments import partner_names
from gateway.web import repositories
from gateway.web.forms import parse_uuid
from gateway.web.visits import ConsoleVisit, Cursor, Done, delivery_page
from shared.contracts import DeliveryStatus
from shared.queries import DeliveryFilter, Query, query_dependency


async def _payer_details(engine: AsyncEngine, partner_id: uuid.UUID) -> bool:
    async with engine.connect() as conn:
        return await repositories.payer_details(conn, partner_id)


class DeliverySearch(Query, frozen=True):
    """The filter form of the deliveries page, as typed (a partner id that is none is a page that says so)."""

    status: DeliveryStatus = "failed"
    partner_id: Annotated[str | None, QueryParameter(max_length=40)] = None
    cursor: Cursor = None


class ConsoleDeliveriesController(ConsolePages):
    path = "/deliveries"

    @get("/", operation_id="consoleDeliveries", dependencies={"form": query_dependency(DeliverySearch)})
    async def list_(
        self, visit: NamedDependency[ConsoleVisit], form: NamedDependency[DeliverySearch]
    ) -> Template:
        partner = parse_uuid(form.partner_id, "partner")
        listing = await visit.payment_ms.list_deliveries(
            DeliveryFilter(status=form.status, partner_id=partner, cursor=form.cursor, limit=50)
        )
        return visit.page(
            "console/deliveries.html",
            title="Deliveries",
            section="Deliveries",
            listing=listing,
            status=form.status,
            partner_id=form.partner_id or "",
            partner_names=await partner_names(visit.engine),
        )

    @get("/{delivery_id:uuid}", operation_id="consoleDelivery")
    async def detail(
        self, visit: NamedDependency[ConsoleVisit], delivery_id: FromPath[uuid.UUID], done: Done = None
    ) -> Template:
        delivery = await visit.payment_ms.get_delivery(delivery_id)
        return await delivery_page(
            visit,
            "console/delivery.html",
            delivery,
            payer_details=await _payer_details(visit.engine, delivery.partner_id),
            partner_names=await partner_names(visit.engine),
            notice="Due again now: the dispatcher sends it within seconds." if done == "replayed" else None,
        )

    @post("/{delivery_id:uuid}/replay", operation_id="consoleReplayDelivery", status_code=303)
    async def replay(
        self, visit: NamedDependency[ConsoleVisit], delivery_id: FromPath[uuid.UUID]
    ) -> Response[Any]:
        await visit.form()
        await visit.payment_ms.replay_delivery(delivery_id)
        return visit.back(f"/console/deliveries/{delivery_id}", "replayed")
