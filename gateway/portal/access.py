"""Who may see a portal page: a live portal session, scoped to its one partner."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.response import Template

from gateway.web.pages import PAGE_HEADERS
from gateway.web.sessions import PORTAL_COOKIE, LoginRequired, PortalSession, portal_session


async def requires_portal_session(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    session = await portal_session(connection.app.state.db_engine, connection.cookies.get(PORTAL_COOKIE))
    if session is None:
        raise LoginRequired
    connection.state.portal_session = session


def provide_portal_session(request: Request[Any, Any, Any]) -> PortalSession:
    session: PortalSession = request.state.portal_session
    return session


def signed_out(_: Request[Any, Any, Any], __: LoginRequired) -> Response[Any]:
    """No session (never had one, expired, revoked): the partner needs a new link from its operator."""
    return Template(
        template_name="portal/signed_out.html",
        context={"title": "Signed out", "session": None},
        status_code=401,
        headers=PAGE_HEADERS,
    )
