"""The partner portal's pages. Every page reads the partner from the session and never from the URL:
a delivery id of another partner is answered exactly like one that does not exist."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Template

from gateway.partners import services as partners
from gateway.payments.client import UpstreamProblem
from gateway.portal import catalog
from gateway.portal import services as portal
from gateway.portal.access import PortalPages
from gateway.web.forms import one_of
from gateway.web.sessions import form_list
from gateway.web.visits import Cursor, Done, PortalVisit, delivery_page
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


async def _own_partner(visit: PortalVisit) -> Partner:
    async with visit.db.begin():
        return await partners.get_partner(visit.db, visit.session.partner_id)


async def _own_delivery(visit: PortalVisit, delivery_id: uuid.UUID) -> DeliveryDetail:
    try:
        delivery = await visit.payment_ms.get_delivery(delivery_id)
    except UpstreamProblem as exc:
        if exc.status_code != 404:
            raise
        raise NotFoundError(NO_SUCH_DELIVERY) from None
    if delivery.partner_id != visit.session.partner_id:
        raise NotFoundError(NO_SUCH_DELIVERY)
    return delivery


async def _partner_page(visit: PortalVisit, name: str, title: str, section: str, **context: Any) -> Template:
    """A page of the session's own partner that shows what ``context`` holds."""
    partner = await _own_partner(visit)
    return visit.page(name, title=title, section=section, partner=partner, **context)


def _home(
    visit: PortalVisit,
    partner: Partner,
    *,
    status_code: int = 200,
    url: str | None = None,
    chosen: list[str] | None = None,
    **shown: Any,
) -> Template:
    """The endpoint page. ``shown`` is what the last action left to show (``notice``, ``error``, a new
    ``secret``, a ``test`` send); after a refused change, ``url`` and ``chosen`` are as typed."""
    return visit.page(
        "portal/home.html",
        status_code=status_code,
        title="Your endpoint",
        section="Endpoint",
        partner=partner,
        signing=partners.signing_windows(partner),
        event_types=EVENT_TYPES,
        chosen=chosen if chosen is not None else list(partner.event_types),
        url=url if url is not None else partner.url,
        paused=not partner.enabled and partner.disabled_reason == PAUSED_REASON,
        deliveries_path="/portal/deliveries",
        **{"notice": None, "error": None, "secret": None, "test": None, **shown},
    )


class PortalController(PortalPages):
    path = "/"

    @get("/", operation_id="portalHome")
    async def home(self, visit: NamedDependency[PortalVisit], done: Done = None) -> Template:
        return _home(visit, await _own_partner(visit), notice=DONE.get(done or ""))

    @post("/endpoint", operation_id="portalEndpoint")
    async def endpoint(self, visit: NamedDependency[PortalVisit]) -> Response[Any]:
        form = await visit.form()
        chosen = [t for t in EVENT_TYPES if t in await form_list(visit.request, "event_types")]
        url = form.get("url", "").strip()
        try:
            if not chosen:
                raise InvalidInputError("Choose at least one event type.")
            async with visit.db.begin():
                await partners.update_partner(
                    visit.db, visit.session.partner_id, url=url, event_types=chosen, settings=visit.settings
                )
        except ApplicationError as exc:  # the same SSRF and https rules as the admin API: say which
            partner = await _own_partner(visit)
            return _home(
                visit, partner, error=exc.detail, status_code=exc.status_code, url=url, chosen=chosen
            )
        return visit.back("/portal", "endpoint")

    @post("/rotate", operation_id="portalRotate")
    async def rotate(self, visit: NamedDependency[PortalVisit]) -> Template:
        await visit.form()
        async with visit.db.begin():
            partner = await partners.rotate_secret(
                visit.db, visit.session.partner_id, settings=visit.settings
            )
            secret = partner.secret
        return _home(visit, partner, secret=secret)

    @post("/test", operation_id="portalTestSend")
    async def test_send(self, visit: NamedDependency[PortalVisit]) -> Template:
        """A signed example event to the endpoint now; the page shows the attempt and links to the test
        delivery it was stored as."""
        form = await visit.form()
        event_type = form.get("type", "payment.succeeded")
        if event_type not in EVENT_TYPES:
            raise InvalidInputError(f"No such event type: {event_type}.")
        async with visit.db.begin():
            test = await partners.test_send_request(visit.db, visit.session.partner_id, event_type)
            partner = await partners.get_partner(visit.db, visit.session.partner_id)
        result = await visit.payment_ms.send_test_event(test)
        return _home(visit, partner, test=result)

    @post("/pause", operation_id="portalPause", status_code=303)
    async def pause(self, visit: NamedDependency[PortalVisit]) -> Response[Any]:
        await visit.form()
        async with visit.db.begin():
            await partners.disable_partner(visit.db, visit.session.partner_id, reason=PAUSED_REASON)
        return visit.back("/portal", "paused")

    @post("/resume", operation_id="portalResume", status_code=303)
    async def resume(self, visit: NamedDependency[PortalVisit]) -> Response[Any]:
        await visit.form()
        async with visit.db.begin():
            partner = await partners.get_partner(visit.db, visit.session.partner_id, for_update=True)
            if not partner.enabled and partner.disabled_reason != PAUSED_REASON:
                raise InvalidInputError(
                    f"Your operator disabled this endpoint ({partner.disabled_reason}); ask them to enable it"
                )
            await partners.update_partner(visit.db, partner.id, enabled=True, settings=visit.settings)
        return visit.back("/portal", "resumed")


class PortalReadsController(PortalPages):
    """The partner's deliveries, the event catalog, verification and its API tokens."""

    path = "/"

    @get("/deliveries", operation_id="portalDeliveries")
    async def deliveries(
        self,
        visit: NamedDependency[PortalVisit],
        status: Annotated[str | None, QueryParameter(max_length=20)] = None,
        cursor: Cursor = None,
    ) -> Template:
        partner = await _own_partner(visit)
        listing = await visit.payment_ms.list_deliveries(
            DeliveryFilter(
                partner_id=visit.session.partner_id,
                status=one_of(status, DELIVERY_STATUSES, "status"),
                cursor=cursor,
                limit=50,
            )
        )
        return visit.page(
            "portal/deliveries.html",
            title="Deliveries",
            section="Deliveries",
            partner=partner,
            listing=listing,
            status=status or "",
        )

    @get("/deliveries/{delivery_id:uuid}", operation_id="portalDelivery")
    async def delivery(
        self, visit: NamedDependency[PortalVisit], delivery_id: FromPath[uuid.UUID], done: Done = None
    ) -> Template:
        delivery = await _own_delivery(visit, delivery_id)
        partner = await _own_partner(visit)
        return await delivery_page(
            visit,
            "portal/delivery.html",
            delivery,
            partner.payer_details,
            partner=partner,
            notice=DONE.get(done or ""),
        )

    @post("/deliveries/{delivery_id:uuid}/replay", operation_id="portalReplay", status_code=303)
    async def replay(
        self, visit: NamedDependency[PortalVisit], delivery_id: FromPath[uuid.UUID]
    ) -> Response[Any]:
        await visit.form()
        await _own_delivery(visit, delivery_id)
        await visit.payment_ms.replay_delivery(delivery_id)
        return visit.back(f"/portal/deliveries/{delivery_id}", "replayed")

    @get("/events", operation_id="portalCatalog")
    async def events(self, visit: NamedDependency[PortalVisit]) -> Template:
        return await _partner_page(
            visit, "portal/catalog.html", "Event catalog", "Event catalog", entries=catalog.entries()
        )

    @get("/verify", operation_id="portalVerify")
    async def verify(self, visit: NamedDependency[PortalVisit]) -> Template:
        return await _partner_page(
            visit, "portal/verify.html", "Verifying webhooks", "Verifying", snippets=catalog.snippets()
        )

    @get("/tokens", operation_id="portalTokens")
    async def tokens(self, visit: NamedDependency[PortalVisit], done: Done = None) -> Template:
        return await _tokens(visit, notice=DONE.get(done or ""))

    @post("/tokens", operation_id="portalIssueToken")
    async def issue_token(self, visit: NamedDependency[PortalVisit]) -> Template:
        form = await visit.form()
        _, token = await portal.issue_api_token(visit.engine, visit.session.partner_id, form.get("name", ""))
        return await _tokens(visit, new_token=token)

    @post("/tokens/{token_id:uuid}/revoke", operation_id="portalRevokeToken", status_code=303)
    async def revoke_token(
        self, visit: NamedDependency[PortalVisit], token_id: FromPath[uuid.UUID]
    ) -> Response[Any]:
        await visit.form()
        await portal.revoke_api_token(visit.engine, visit.session.partner_id, token_id)
        return visit.back("/portal/tokens", "revoked")


async def _tokens(visit: PortalVisit, **shown: Any) -> Template:
    """The tokens page; ``shown``: a ``notice``, or the ``new_token`` just issued (shown this once)."""
    partner = await _own_partner(visit)
    return visit.page(
        "portal/tokens.html",
        title="API tokens",
        section="API tokens",
        partner=partner,
        tokens=await portal.list_api_tokens(visit.engine, visit.session.partner_id),
        feed_url=str(visit.request.base_url).rstrip("/") + "/partner/v1/events",
        **{"notice": None, "new_token": None, **shown},
    )
