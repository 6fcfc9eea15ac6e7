"""The partner portal's pages. Every page reads the partner from the session and never from the URL:
a delivery id of another partner is answered exactly like one that does not exist."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import QueryParameter
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from gateway.partners import services as partners
from gateway.payments.client import PaymentMsClient, UpstreamProblem
from gateway.portal import catalog
from gateway.portal import services as portal
from gateway.portal.access import provide_portal_session, requires_portal_session
from gateway.settings import GatewaySettings
from gateway.web.forms import one_of
from gateway.web.pages import PAGE_HEADERS, page, webhook_body
from gateway.web.sessions import (
    PortalSession,
    checked_form,
    form_list,
)
from shared.contracts import DeliveryDetail
from shared.models import DELIVERY_STATUSES, EVENT_TYPES, Partner
from shared.problems import ApplicationError, InvalidInputError, NotFoundError
from shared.queries import DeliveryFilter

PAUSED_REASON = "paused by the partner"
DONE = {
    "endpoint": "Endpoint saved.",
    "paused": "Paused: no deliveries are sent until you resume.",
    "resumed": "Resumed: deliveries flow again.",
    "replayed": "Due again now: it is sent within seconds.",
    "revoked": "Token revoked.",
}
NO_SUCH_DELIVERY = "No such delivery."

DEPENDENCIES = {
    "portal_session": Provide(provide_portal_session, sync_to_thread=False),
}


async def _own_partner(db_session: AsyncSession, session: PortalSession) -> Partner:
    async with db_session.begin():
        return await partners.get_partner(db_session, session.partner_id)


async def _own_delivery(
    payment_ms: PaymentMsClient, session: PortalSession, delivery_id: uuid.UUID
) -> DeliveryDetail:
    try:
        delivery = await payment_ms.get_delivery(delivery_id)
    except UpstreamProblem as exc:
        if exc.status_code != 404:
            raise
        raise NotFoundError(NO_SUCH_DELIVERY) from None
    if delivery.partner_id != session.partner_id:
        raise NotFoundError(NO_SUCH_DELIVERY)
    return delivery


def _back(path: str, done: str) -> Response[Any]:
    return Redirect(f"{path}?done={done}", status_code=303, headers=PAGE_HEADERS)


class PortalController(Controller):
    path = "/"
    include_in_schema = False
    guards = [requires_portal_session]
    dependencies = DEPENDENCIES

    @get("/", operation_id="portalHome")
    async def home(
        self,
        portal_session: NamedDependency[PortalSession],
        db_session: AsyncSession,
        payment_ms: PaymentMsClient,
        done: Annotated[str | None, QueryParameter(max_length=20)] = None,
    ) -> Template:
        partner = await _own_partner(db_session, portal_session)
        return self._home(portal_session, partner, notice=DONE.get(done or ""))

    @staticmethod
    def _home(
        session: PortalSession,
        partner: Partner,
        *,
        notice: str | None = None,
        error: str | None = None,
        secret: str | None = None,
        test: Any = None,
        status_code: int = 200,
        url: str | None = None,
        chosen: list[str] | None = None,
    ) -> Template:
        return page(
            "portal/home.html",
            status_code=status_code,
            title="Your endpoint",
            section="Endpoint",
            session=session,
            partner=partner,
            signing=partners.signing_windows(partner),
            event_types=EVENT_TYPES,
            chosen=chosen if chosen is not None else list(partner.event_types),
            url=url if url is not None else partner.url,
            paused=not partner.enabled and partner.disabled_reason == PAUSED_REASON,
            deliveries_path="/portal/deliveries",
            notice=notice,
            error=error,
            secret=secret,
            test=test,
        )

    @post("/endpoint", operation_id="portalEndpoint")
    async def endpoint(
        self,
        request: Request[Any, Any, Any],
        portal_session: NamedDependency[PortalSession],
        db_session: AsyncSession,
        gateway_settings: GatewaySettings,
    ) -> Response[Any]:
        form = await checked_form(request, portal_session.csrf_token)
        chosen = [t for t in EVENT_TYPES if t in await form_list(request, "event_types")]
        url = form.get("url", "").strip()
        try:
            if not chosen:
                raise InvalidInputError("Choose at least one event type.")
            async with db_session.begin():
                await partners.update_partner(
                    db_session,
                    portal_session.partner_id,
                    url=url,
                    event_types=chosen,
                    settings=gateway_settings,
                )
        except ApplicationError as exc:  # the same SSRF and https rules as the admin API: say which
            partner = await _own_partner(db_session, portal_session)
            return self._home(
                portal_session, partner, error=exc.detail, status_code=exc.status_code, url=url, chosen=chosen
            )
        return _back("/portal", "endpoint")

    @post("/rotate", operation_id="portalRotate")
    async def rotate(
        self,
        request: Request[Any, Any, Any],
        portal_session: NamedDependency[PortalSession],
        db_session: AsyncSession,
        gateway_settings: GatewaySettings,
    ) -> Template:
        await checked_form(request, portal_session.csrf_token)
        async with db_session.begin():
            partner = await partners.rotate_secret(
                db_session, portal_session.partner_id, settings=gateway_settings
            )
            secret = partner.secret
        return self._home(portal_session, partner, secret=secret)

    @post("/test", operation_id="portalTestSend")
    async def test_send(
        self,
        request: Request[Any, Any, Any],
        portal_session: NamedDependency[PortalSession],
        db_session: AsyncSession,
        payment_ms: PaymentMsClient,
    ) -> Template:
        """A signed example event to the endpoint now; the page shows the attempt and links to the test
        delivery it was stored as."""
        form = await checked_form(request, portal_session.csrf_token)
        event_type = form.get("type", "payment.succeeded")
        if event_type not in EVENT_TYPES:
            raise InvalidInputError(f"No such event type: {event_type}.")
        async with db_session.begin():
            test = await partners.test_send_request(db_session, portal_session.partner_id, event_type)
            partner = await partners.get_partner(db_session, portal_session.partner_id)
        result = await payment_ms.send_test_event(test)
        return self._home(portal_session, partner, test=result)

    @post("/pause", operation_id="portalPause", status_code=303)
    async def pause(
        self,
        request: Request[Any, Any, Any],
        portal_session: NamedDependency[PortalSession],
        db_session: AsyncSession,
    ) -> Response[Any]:
        await checked_form(request, portal_session.csrf_token)
        async with db_session.begin():
            await partners.disable_partner(db_session, portal_session.partner_id, reason=PAUSED_REASON)
        return _back("/portal", "paused")

    @post("/resume", operation_id="portalResume", status_code=303)
    async def resume(
        self,
        request: Request[Any, Any, Any],
        portal_session: NamedDependency[PortalSession],
        db_session: AsyncSession,
        gateway_settings: GatewaySettings,
    ) -> Response[Any]:
        await checked_form(request, portal_session.csrf_token)
        async with db_session.begin():
            partner = await partners.get_partner(db_session, portal_session.partner_id, for_update=True)
            if not partner.enabled and partner.disabled_reason != PAUSED_REASON:
                raise InvalidInputError(
                    f"Your operator disabled this endpoint ({partner.disabled_reason}); ask them to enable it"
                )
            await partners.update_partner(db_session, partner.id, enabled=True, settings=gateway_settings)
        return _back("/portal", "resumed")


class PortalReadsController(Controller):
    """The partner's deliveries, the event catalog, verification and its API tokens."""

    path = "/"
    include_in_schema = False
    guards = [requires_portal_session]
    dependencies = DEPENDENCIES

    @get("/deliveries", operation_id="portalDeliveries")
    async def deliveries(
        self,
        portal_session: NamedDependency[PortalSession],
        db_session: AsyncSession,
        payment_ms: PaymentMsClient,
        status: Annotated[str | None, QueryParameter(max_length=20)] = None,
        cursor: Annotated[str | None, QueryParameter(max_length=200)] = None,
    ) -> Template:
        partner = await _own_partner(db_session, portal_session)
        listing = await payment_ms.list_deliveries(
            DeliveryFilter(
                partner_id=portal_session.partner_id,
                status=one_of(status, DELIVERY_STATUSES, "status"),
                cursor=cursor,
                limit=50,
            )
        )
        return page(
            "portal/deliveries.html",
            title="Deliveries",
            section="Deliveries",
            session=portal_session,
            partner=partner,
            deliveries=listing.items,
            next_cursor=listing.next_cursor,
            status=status or "",
        )

    @get("/deliveries/{delivery_id:uuid}", operation_id="portalDelivery")
    async def delivery(
        self,
        portal_session: NamedDependency[PortalSession],
        db_session: AsyncSession,
        payment_ms: PaymentMsClient,
        delivery_id: uuid.UUID,
        done: Annotated[str | None, QueryParameter(max_length=20)] = None,
    ) -> Template:
        delivery = await _own_delivery(payment_ms, portal_session, delivery_id)
        partner = await _own_partner(db_session, portal_session)
        event = await payment_ms.get_event(delivery.event_id)
        return page(
            "portal/delivery.html",
            title=f"Delivery {delivery.id}",
            section="Deliveries",
            session=portal_session,
            partner=partner,
            delivery=delivery,
            event=event,
            request_body=webhook_body(event, payer_details=partner.payer_details),
            notice=DONE.get(done or ""),
        )

    @post("/deliveries/{delivery_id:uuid}/replay", operation_id="portalReplay", status_code=303)
    async def replay(
        self,
        request: Request[Any, Any, Any],
        portal_session: NamedDependency[PortalSession],
        payment_ms: PaymentMsClient,
        delivery_id: uuid.UUID,
    ) -> Response[Any]:
        await checked_form(request, portal_session.csrf_token)
        await _own_delivery(payment_ms, portal_session, delivery_id)
        await payment_ms.replay_delivery(delivery_id)
        return _back(f"/portal/deliveries/{delivery_id}", "replayed")

    @get("/events", operation_id="portalCatalog")
    async def events(
        self, portal_session: NamedDependency[PortalSession], db_session: AsyncSession
    ) -> Template:
        partner = await _own_partner(db_session, portal_session)
        return page(
            "portal/catalog.html",
            title="Event catalog",
            section="Event catalog",
            session=portal_session,
            partner=partner,
            entries=catalog.entries(),
        )

    @get("/verify", operation_id="portalVerify")
    async def verify(
        self, portal_session: NamedDependency[PortalSession], db_session: AsyncSession
    ) -> Template:
        partner = await _own_partner(db_session, portal_session)
        return page(
            "portal/verify.html",
            title="Verifying webhooks",
            section="Verifying",
            session=portal_session,
            partner=partner,
            snippets=catalog.snippets(),
        )

    @get("/tokens", operation_id="portalTokens")
    async def tokens(
        self,
        request: Request[Any, Any, Any],
        portal_session: NamedDependency[PortalSession],
        db_session: AsyncSession,
        done: Annotated[str | None, QueryParameter(max_length=20)] = None,
    ) -> Template:
        return await self._tokens(request, portal_session, db_session, notice=DONE.get(done or ""))

    async def _tokens(
        self, request: Request[Any, Any, Any], session: PortalSession, db_session: AsyncSession, **extra: Any
    ) -> Template:
        partner = await _own_partner(db_session, session)
        engine: AsyncEngine = request.app.state.db_engine
        return page(
            "portal/tokens.html",
            title="API tokens",
            section="API tokens",
            session=session,
            partner=partner,
            tokens=await portal.list_api_tokens(engine, session.partner_id),
            feed_url=str(request.base_url).rstrip("/") + "/partner/v1/events",
            **{"notice": None, "new_token": None, **extra},
        )

    @post("/tokens", operation_id="portalIssueToken")
    async def issue_token(
        self,
        request: Request[Any, Any, Any],
        portal_session: NamedDependency[PortalSession],
        db_session: AsyncSession,
    ) -> Template:
        form = await checked_form(request, portal_session.csrf_token)
        _, token = await portal.issue_api_token(
            request.app.state.db_engine, portal_session.partner_id, form.get("name", "")
        )
        return await self._tokens(request, portal_session, db_session, new_token=token)

    @post("/tokens/{token_id:uuid}/revoke", operation_id="portalRevokeToken", status_code=303)
    async def revoke_token(
        self,
        request: Request[Any, Any, Any],
        portal_session: NamedDependency[PortalSession],
        token_id: uuid.UUID,
    ) -> Response[Any]:
        await checked_form(request, portal_session.csrf_token)
        await portal.revoke_api_token(request.app.state.db_engine, portal_session.partner_id, token_id)
        return _back("/portal/tokens", "revoked")
