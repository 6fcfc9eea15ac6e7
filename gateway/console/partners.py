"""Console pages of the partner registry: health over the last 24 h, creating a partner, its event
types, secret rotation (shown once), disabling and enabling, portal links and replaying a window."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from gateway.console.access import ConsolePages
from gateway.partners import services as partners
from gateway.portal import services as portal
from gateway.web.forms import parse_time
from gateway.web.pages import PAGE_HEADERS
from gateway.web.sessions import form_list
from gateway.web.visits import ConsoleVisit, Visit
from shared.contracts import PartnerHealth, PartnerReplay
from shared.models import EVENT_TYPES, Partner
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


class ConsolePartnersController(ConsolePages):
    path = "/partners"

    @get("/", operation_id="consolePartners")
    async def list_(self, visit: NamedDependency[ConsoleVisit]) -> Template:
        async with visit.db.begin():
            registry, _ = await partners.list_partners(visit.db, limit=500)
        health = await visit.payment_ms.partner_health(HealthQuery(partner_id=[p.id for p in registry]))
        by_partner = {h.partner_id: h for h in health.items}
        rows = [(p, health_view(by_partner.get(p.id))) for p in registry]
        return visit.page("console/partners.html", title="Partners", section="Partners", rows=rows)

    @get("/new", operation_id="consoleNewPartner")
    async def new(self, visit: NamedDependency[ConsoleVisit]) -> Template:
        return _new_partner_page(visit, {"name": "", "url": ""}, list(EVENT_TYPES))

    @post("/", operation_id="consoleCreatePartner")
    async def create(self, visit: NamedDependency[ConsoleVisit]) -> Template:
        form = await visit.form()
        chosen = await form_list(visit.request, "event_types")
        try:
            async with visit.db.begin():
                partner = await partners.create_partner(
                    visit.db,
                    name=form.get("name", ""),
                    url=form.get("url", "").strip(),
                    event_types=_event_types(chosen),
                    settings=visit.settings,
                )
                secret = partner.secret
        except (InvalidInputError, ConflictError) as exc:  # the same form again, with the reason
            return _new_partner_page(visit, form, chosen, exc.detail, status=exc.status_code)
        return _secret_page(visit, partner, secret, "Partner created", "created")

    @get("/{partner_id:uuid}", operation_id="consolePartner")
    async def detail(
        self,
        visit: NamedDependency[ConsoleVisit],
        partner_id: FromPath[uuid.UUID],
        done: FromQuery[str | None] = None,
        replayed: FromQuery[int | None] = None,
    ) -> Template:
        async with visit.db.begin():
            partner = await partners.get_partner(visit.db, partner_id)
        health = await visit.payment_ms.partner_health(HealthQuery(partner_id=[partner_id]))
        deliveries = await visit.payment_ms.list_deliveries(DeliveryFilter(partner_id=partner_id, limit=20))
        return visit.page(
            "console/partner.html",
            title=partner.name,
            section="Partners",
            partner=partner,
            signing=partners.signing_windows(partner),
            health=health_view(health.items[0] if health.items else None),
            deliveries=deliveries.items,
            links=await portal.list_links(visit.engine, partner_id),
            event_types=EVENT_TYPES,
            now=datetime.now(UTC),
            default_since=(datetime.now(UTC) - timedelta(hours=24)).strftime("%Y-%m-%dT%H:%M"),
            notice=f"{replayed} deliveries are due again." if replayed is not None else DONE.get(done or ""),
        )

    @post("/{partner_id:uuid}/event-types", operation_id="consolePartnerEventTypes", status_code=303)
    async def event_types(
        self, visit: NamedDependency[ConsoleVisit], partner_id: FromPath[uuid.UUID]
    ) -> Response[Any]:
        await visit.form()
        chosen = _event_types(await form_list(visit.request, "event_types"))
        async with visit.db.begin():
            await partners.update_partner(visit.db, partner_id, event_types=chosen, settings=visit.settings)
        return _back(partner_id, "event-types")

    @post("/{partner_id:uuid}/rotate", operation_id="consolePartnerRotate")
    async def rotate(self, visit: NamedDependency[ConsoleVisit], partner_id: FromPath[uuid.UUID]) -> Template:
        await visit.form()
        async with visit.db.begin():
            partner = await partners.rotate_secret(visit.db, partner_id, settings=visit.settings)
            secret = partner.secret
        return _secret_page(visit, partner, secret, "Secret rotated", "rotated")

    @post("/{partner_id:uuid}/disable", operation_id="consolePartnerDisable", status_code=303)
    async def disable(
        self, visit: NamedDependency[ConsoleVisit], partner_id: FromPath[uuid.UUID]
    ) -> Response[Any]:
        form = await visit.form()
        reason = form.get("reason", "").strip() or f"disabled by {visit.session.email}"
        async with visit.db.begin():
            await partners.disable_partner(visit.db, partner_id, reason=reason)
        return _back(partner_id, "disabled")

    @post("/{partner_id:uuid}/enable", operation_id="consolePartnerEnable", status_code=303)
    async def enable(
        self, visit: NamedDependency[ConsoleVisit], partner_id: FromPath[uuid.UUID]
    ) -> Response[Any]:
        await visit.form()
        async with visit.db.begin():
            await partners.update_partner(visit.db, partner_id, enabled=True, settings=visit.settings)
        return _back(partner_id, "enabled")


class ConsolePartnerLinksController(ConsolePages):
    """A partner's test sends, portal links and replays."""

    path = "/partners"

    @post("/{partner_id:uuid}/test", operation_id="consolePartnerTest")
    async def test_send(
        self, visit: NamedDependency[ConsoleVisit], partner_id: FromPath[uuid.UUID]
    ) -> Template:
        form = await visit.form()
        event_type = form.get("type", "payment.succeeded")
        if event_type not in EVENT_TYPES:
            raise InvalidInputError(f"No such event type: {event_type}.")
        async with visit.db.begin():
            test = await partners.test_send_request(visit.db, partner_id, event_type)
            partner = await partners.get_partner(visit.db, partner_id)
        result = await visit.payment_ms.send_test_event(test)
        return visit.page(
            "console/test_result.html",
            title="Test event",
            section="Partners",
            partner=partner,
            test=result,
            deliveries_path="/console/deliveries",
        )

    @post("/{partner_id:uuid}/portal-links", operation_id="consolePortalLink")
    async def portal_link(
        self, visit: NamedDependency[ConsoleVisit], partner_id: FromPath[uuid.UUID]
    ) -> Template:
        await visit.form()
        async with visit.db.begin():
            partner = await partners.get_partner(visit.db, partner_id)
        async with visit.engine.begin() as conn:
            link = await portal.issue_link(conn, visit.settings, partner_id, issued_by=visit.session.email)
        return visit.page(
            "console/portal_link.html", title="Portal link", section="Partners", partner=partner, link=link
        )

    @post(
        "/{partner_id:uuid}/portal-links/{link_id:uuid}/revoke",
        operation_id="consoleRevokeLink",
        status_code=303,
    )
    async def revoke_link(
        self,
        visit: NamedDependency[ConsoleVisit],
        partner_id: FromPath[uuid.UUID],
        link_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        await visit.form()
        async with visit.engine.begin() as conn:
            await portal.revoke_link(conn, partner_id, link_id)
        return _back(partner_id, "link-revoked")

    @post("/{partner_id:uuid}/replay", operation_id="consolePartnerReplay")
    async def replay(
        self, visit: NamedDependency[ConsoleVisit], partner_id: FromPath[uuid.UUID]
    ) -> Response[Any]:
        form = await visit.form()
        since = parse_time(form.get("since"))
        if since is None:
            raise InvalidInputError("Give the start of the window.")
        async with visit.db.begin():
            await partners.get_partner(visit.db, partner_id)
        until = parse_time(form.get("until"))
        replay = PartnerReplay(partner_id=partner_id, since=since, until=until, all=form.get("all") == "on")
        count = await visit.payment_ms.replay_partner_deliveries(replay)
        return Redirect(
            f"/console/partners/{partner_id}?replayed={count.replayed}", status_code=303, headers=PAGE_HEADERS
        )


def _new_partner_page(
    visit: ConsoleVisit, form: dict[str, str], chosen: list[str], error: str | None = None, status: int = 200
) -> Template:
    """The new-partner form: empty, or again with what was typed and why it was refused."""
    return visit.page(
        "console/partner_new.html",
        status_code=status,
        title="New partner",
        section="Partners",
        event_types=EVENT_TYPES,
        form={"name": form.get("name", ""), "url": form.get("url", "")},
        chosen=chosen,
        error=error,
    )


def _secret_page(visit: ConsoleVisit, partner: Partner, secret: str, title: str, what: str) -> Template:
    """The signing secret of a partner just created or rotated: shown this once."""
    return visit.page(
        "console/secret.html",
        title=title,
        section="Partners",
        partner=partner,
        secret=secret,
        signing=partners.signing_windows(partner),
        what=what,
    )


def _back(partner_id: uuid.UUID, done: str) -> Response[Any]:
    return Visit.back(f"/console/partners/{partner_id}", done)
