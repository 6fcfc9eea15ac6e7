"""Entering and leaving the partner portal: a single-use link opens a session (the GET shows a button,
the POST spends the link), logging out ends it."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.dependencies import Settings
from gateway.portal import services as portal
from gateway.portal.access import requires_portal_session
from gateway.web.pages import PAGE_HEADERS, page
from gateway.web.sessions import (
    PORTAL_COOKIE,
    PortalSession,
    checked_form,
    checked_presession_form,
    cleared_cookie,
    end_session,
    presession_token,
    session_cookie,
    with_presession,
)


class PortalEntryController(Controller):
    """Opening a link: the GET shows a button (a link scanner's GET spends nothing), the POST spends it."""

    path = "/"
    include_in_schema = False

    @get("/enter/{token:str}", operation_id="portalEnterPage")
    async def enter_page(self, request: Request[Any, Any, Any], token: FromPath[str]) -> Template:
        form_token = presession_token(request)
        response = page(
            "portal/enter.html", title="Open the portal", session=None, token=token, form_token=form_token
        )
        with_presession(request, response, form_token, "/portal")
        return response

    @post("/enter/{token:str}", operation_id="portalEnter", status_code=303)
    async def enter(
        self, request: Request[Any, Any, Any], token: FromPath[str], gateway_settings: Settings
    ) -> Response[Any]:
        await checked_presession_form(request)
        engine: AsyncEngine = request.app.state.db_engine
        _, session_token = await portal.open_link(engine, gateway_settings, token)
        redirect = Redirect("/portal", status_code=303, headers=PAGE_HEADERS)
        redirect.cookies.append(
            session_cookie(
                request, PORTAL_COOKIE, session_token, "/portal", gateway_settings.portal_session_seconds
            )
        )
        return redirect

    @post("/logout", operation_id="portalLogout", status_code=303, guards=[requires_portal_session])
    async def logout(self, request: Request[Any, Any, Any]) -> Response[Any]:
        session: PortalSession = request.state.portal_session
        await checked_form(request, session.csrf_token)
        await end_session(request.app.state.db_engine, session.token_hash)
        redirect = Redirect("/portal/signed-out", status_code=303, headers=PAGE_HEADERS)
        redirect.cookies.append(cleared_cookie(request, PORTAL_COOKIE, "/portal"))
        return redirect

    @get("/signed-out", operation_id="portalSignedOut")
    async def signed_out(self) -> Template:
        return page("portal/signed_out.html", title="Signed out", session=None)
