"""Console pages of the partner registry: health over the last 24 h, creating a partner, its event
types, secret rotation (shown once), disabling and enabling, portal links and replaying a window."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from gateway.console.access import requires_console_session
from gateway.console.payments import DEPENDENCIES
from gateway.partners import services as partners
from gateway.payments.client import PaymentMsClient
from gateway.portal import services as portal
from gateway.settings import GatewaySettings
from gateway.web.forms import parse_time
from gateway.web.pages import PAGE_HEADERS, page
from gateway.web.sessions import ConsoleSession, checked_form, form_list
from shared.contracts import PartnerHealth, PartnerReplay
from shared.models import EVENT_TYPES
from shared.problems import ConflictError, InvalidInputError
from shared.queries import DeliveryFilter, HealthQuery

DONE = {
    "event-types": "Event types saved.",
    "disabled": "Disabled: no deliveries are sent until it is enabled.",
    "enabled": "Enabled: deliveries resume.",
    "link-revoked": "Portal link revoked; the session it opened has ended.",
}


def health_view(health: PartnerHealth | None) -> dict[str, Any]:
    if health is None or health.attempts == 0:
        return {"attempts": 0, "rate": None, "p95_ms": None, "last_failure_at": None, "last_failure": None}
    return {
        "attempts": health.attempts,
        "rate": f"{100 * health.succeeded / health.attempts:.1f} %",
        "p95_ms": health.p95_ms,
        "last_failure_at": health.last_failure_at,
        "last_failure": health.last_failure,
    }


def _event_types(raw: list[str]) -> list[str]:
    chosen = [t for t in EVENT_TYPES if t in raw]
    if not chosen:
        raise InvalidInputError("Choose at least one event type.")
    return chosen


class ConsolePartnersController(Controller):
    path = "/partners"
    include_in_schema = False
    guards = [requires_console_session]
    dependencies = DEPENDENCIES

    @get("/", operation_id="consolePartners")
    async def list_(
        self, console: NamedDependency[ConsoleSession], payment_ms: PaymentMsClient, db_session: AsyncSession
    ) -> Template:
        async with db_session.begin():
            registry, _ = await partners.list_partners(db_session, limit=500)
        health = await payment_ms.partner_health(HealthQuery(partner_id=[p.id for p in registry]))
        by_partner = {h.partner_id: h for h in health.items}
        rows = [(p, health_view(by_partner.get(p.id))) for p in registry]
        return page("console/partners.html", title="Partners", section="Partners", session=console, rows=rows)

    @get("/new", operation_id="consoleNewPartner")
    async def new(self, console: NamedDependency[ConsoleSession]) -> Template:
        return page(
            "console/partner_new.html",
            title="New partner",
            section="Partners",
            session=console,
            event_types=EVENT_TYPES,
            form={"name": "", "url": ""},
            chosen=list(EVENT_TYPES),
            error=None,
        )

    @post("/", operation_id="consoleCreatePartner")
    async def create(
        self,
        request: Request[Any, Any, Any],
        console: NamedDependency[ConsoleSession],
        db_session: AsyncSession,
        gateway_settings: GatewaySettings,
    ) -> Template:
        form = await checked_form(request, console.csrf_token)
        chosen = await form_list(request, "event_types")
        try:
            async with db_session.begin():
                partner = await partners.create_partner(
                    db_session,
                    name=form.get("name", ""),
                    url=form.get("url", "").strip(),
                    event_types=_event_types(chosen),
                    settings=gateway_settings,
                )
                secret = partner.secret
        except (InvalidInputError, ConflictError) as exc:  # the same form again, with the reason
            return self._retry(console, form, chosen, exc.detail, status=exc.status_code)
        return page(
            "console/secret.html",
            title="Partner created",
            section="Partners",
            session=console,
            partner=partner,
            secret=secret,
            signing=partners.signing_windows(partner),
            what="created",
        )

    @staticmethod
    def _retry(
        console: NamedDependency[ConsoleSession],
        form: dict[str, str],
        chosen: list[str],
        error: str,
        status: int = 422,
    ) -> Template:
        return page(
            "console/partner_new.html",
            status_code=status,
            title="New partner",
            section="Partners",
            session=console,
            event_types=EVENT_TYPES,
            form={"name": form.get("name", ""), "url": form.get("url", "")},
            chosen=chosen,
            error=error,
        )

    @get("/{partner_id:uuid}", operation_id="consolePartner")
    async def detail(
        self,
        request: Request[Any, Any, Any],
        console: NamedDependency[ConsoleSession],
        payment_ms: PaymentMsClient,
        db_session: AsyncSession,
        partner_id: uuid.UUID,
        done: str | None = None,
        replayed: int | None = None,
    ) -> Template:
        async with db_session.begin():
            partner = await partners.get_partner(db_session, partner_id)
        engine: AsyncEngine = request.app.state.db_engine
        health = await payment_ms.partner_health(HealthQuery(partner_id=[partner_id]))
        deliveries = await payment_ms.list_deliveries(DeliveryFilter(partner_id=partner_id, limit=20))
        return page(
            "console/partner.html",
            title=partner.name,
            section="Partners",
            session=console,
            partner=partner,
            signing=partners.signing_windows(partner),
            health=health_view(health.items[0] if health.items else None),
            deliveries=deliveries.items,
            links=await portal.list_links(engine, partner_id),
            event_types=EVENT_TYPES,
            now=datetime.now(UTC),
            default_since=(datetime.now(UTC) - timedelta(hours=24)).strftime("%Y-%m-%dT%H:%M"),
            notice=f"{replayed} deliveries are due again." if replayed is not None else DONE.get(done or ""),
        )

    @post("/{partner_id:uuid}/event-types", operation_id="consolePartnerEventTypes", status_code=303)
    async def event_types(
        self,
        request: Request[Any, Any, Any],
        console: NamedDependency[ConsoleSession],
        db_session: AsyncSession,
        gateway_settings: GatewaySettings,
        partner_id: uuid.UUID,
    ) -> Response[Any]:
        await checked_form(request, console.csrf_token)
        chosen = _event_types(await form_list(request, "event_types"))
        async with db_session.begin():
            await partners.update_partner(
                db_session, partner_id, event_types=chosen, settings=gateway_settings
            )
        return _back(partner_id, "event-types")

    @post("/{partner_id:uuid}/rotate", operation_id="consolePartnerRotate")
    async def rotate(
        self,
        request: Request[Any, Any, Any],
        console: NamedDependency[ConsoleSession],
        db_session: AsyncSession,
        gateway_settings: GatewaySettings,
        partner_id: uuid.UUID,
    ) -> Template:
        await checked_form(request, console.csrf_token)
        async with db_session.begin():
            partner = await partners.rotate_secret(db_session, partner_id, settings=gateway_settings)
            secret = partner.secret
        return page(
            "console/secret.html",
            title="Secret rotated",
            section="Partners",
            session=console,
            partner=partner,
            secret=secret,
            signing=partners.signing_windows(partner),
            what="rotated",
        )

    @post("/{partner_id:uuid}/disable", operation_id="consolePartnerDisable", status_code=303)
    async def disable(
        self,
        request: Request[Any, Any, Any],
        console: NamedDependency[ConsoleSession],
        db_session: AsyncSession,
        partner_id: uuid.UUID,
    ) -> Response[Any]:
        form = await checked_form(request, console.csrf_token)
        reason = form.get("reason", "").strip() or f"disabled by {console.email}"
        async with db_session.begin():
            await partners.disable_partner(db_session, partner_id, reason=reason)
        return _back(partner_id, "disabled")

    @post("/{partner_id:uuid}/enable", operation_id="consolePartnerEnable", status_code=303)
    async def enable(
        self,
        request: Request[Any, Any, Any],
        console: NamedDependency[ConsoleSession],
        db_session: AsyncSession,
        gateway_settings: GatewaySettings,
        partner_id: uuid.UUID,
    ) -> Response[Any]:
        await checked_form(request, console.csrf_token)
        async with db_session.begin():
            await partners.update_partner(db_session, partner_id, enabled=True, settings=gateway_settings)
        return _back(partner_id, "enabled")


class ConsolePartnerLinksController(Controller):
    """A partner's test sends, portal links and replays."""

    path = "/partners"
    include_in_schema = False
    guards = [requires_console_session]
    dependencies = DEPENDENCIES

    @post("/{partner_id:uuid}/test", operation_id="consolePartnerTest")
    async def test_send(
        self,
        request: Request[Any, Any, Any],
        console: NamedDependency[ConsoleSession],
        payment_ms: PaymentMsClient,
        db_session: AsyncSession,
        partner_id: uuid.UUID,
    ) -> Template:
        form = await checked_form(request, console.csrf_token)
        event_type = form.get("type", "payment.succeeded")
        if event_type not in EVENT_TYPES:
            raise InvalidInputError(f"No such event type: {event_type}.")
        async with db_session.begin():
            test = await partners.test_send_request(db_session, partner_id, event_type)
            partner = await partners.get_partner(db_session, partner_id)
        result = await payment_ms.send_test_event(test)
        return page(
            "console/test_result.html",
            title="Test event",
            section="Partners",
            session=console,
            partner=partner,
            test=result,
            deliveries_path="/console/deliveries",
        )

    @post("/{partner_id:uuid}/portal-links", operation_id="consolePortalLink")
    async def portal_link(
        self,
        request: Request[Any, Any, Any],
        console: NamedDependency[ConsoleSession],
        db_session: AsyncSession,
        gateway_settings: GatewaySettings,
        partner_id: uuid.UUID,
    ) -> Template:
        await checked_form(request, console.csrf_token)
        async with db_session.begin():
            partner = await partners.get_partner(db_session, partner_id)
        engine: AsyncEngine = request.app.state.db_engine
        async with engine.begin() as conn:
            link = await portal.issue_link(conn, gateway_settings, partner_id, issued_by=console.email)
        return page(
            "console/portal_link.html",
            title="Portal link",
            section="Partners",
            session=console,
            partner=partner,
            link=link,
        )

    @post(
        "/{partner_id:uuid}/portal-links/{link_id:uuid}/revoke",
        operation_id="consoleRevokeLink",
        status_code=303,
    )
    async def revoke_link(
        self,
        request: Request[Any, Any, Any],
        console: NamedDependency[ConsoleSession],
        partner_id: uuid.UUID,
        link_id: uuid.UUID,
    ) -> Response[Any]:
        await checked_form(request, console.csrf_token)
        engine: AsyncEngine = request.app.state.db_engine
        async with engine.begin() as conn:
            await portal.revoke_link(conn, partner_id, link_id)
        return _back(partner_id, "link-revoked")

    @post("/{partner_id:uuid}/replay", operation_id="consolePartnerReplay")
    async def replay(
        self,
        request: Request[Any, Any, Any],
        console: NamedDependency[ConsoleSession],
        payment_ms: PaymentMsClient,
        db_session: AsyncSession,
        partner_id: uuid.UUID,
    ) -> Response[Any]:
        form = await checked_form(request, console.csrf_token)
        since = parse_time(form.get("since"))
        if since is None:
            raise InvalidInputError("Give the start of the window.")
        async with db_session.begin():
            await partners.get_partner(db_session, partner_id)
        until = parse_time(form.get("until"))
        replay = PartnerReplay(partner_id=partner_id, since=since, until=until, all=form.get("all") == "on")
        count = await payment_ms.replay_partner_deliveries(replay)
        return Redirect(
            f"/console/partners/{partner_id}?replayed={count.replayed}", status_code=303, headers=PAGE_HEADERS
        )


def _back(partner_id: uuid.UUID, done: str) -> Response[Any]:
    return Redirect(f"/console/partners/{partner_id}?done={done}", status_code=303, headers=PAGE_HEADERS)
