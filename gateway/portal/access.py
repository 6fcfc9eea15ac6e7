"""Who may see a portal page: a live portal session, scoped to its one partner."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.response import Template

from gateway.web.pages import PAGE_HEADERS
from gateway.web.sessions import PORTAL_COOKIE, LoginRequired, portal_session, session_guard
from gateway.web.visits import Pages, visit_provider

requires_portal_session = session_guard(portal_session, PORTAL_COOKIE, "portal_session")


class PortalPages(Pages):
    """The portal's page controllers: a partner's session and its ``visit``."""

    guards = [requires_portal_session]
    dependencies = {"visit": visit_provider("portal_session")}


def signed_out(_: Request[Any, Any, Any], __: LoginRequired) -> Response[Any]:
    """No session (never had one, expired, revoked): the partner needs a new link from its operator."""
    return Template(
        template_name="portal/signed_out.html",
        context={"title": "Signed out", "session": None},
        status_code=401,
        headers=PAGE_HEADERS,
    )
