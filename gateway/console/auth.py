"""Signing in to and out of the console: the users' own email and password, admins only."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.params import QueryParameter
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.auth.services import authenticate
from gateway.dependencies import DbSession, Settings
from gateway.web.pages import PAGE_HEADERS, page
from gateway.web.sessions import (
    CONSOLE_COOKIE,
    checked_form,
    checked_presession_form,
    cleared_cookie,
    console_session,
    end_session,
    presession_token,
    session_cookie,
    start_console_session,
    with_presession,
)
from shared.problems import ApplicationError

NotAdmin = "This account is not an operator of this paygate."


def _safe_next(target: str | None) -> str:
    """Only a console path: never another host (``//evil``) or scheme."""
    if target and target.startswith("/console") and not target.startswith("//"):
        return target
    return "/console"


def _login_page(
    request: Request[Any, Any, Any],
    *,
    status: int = 200,
    error: str | None = None,
    email: str = "",
    next_: str = "/console",
) -> Template:
    token = presession_token(request)
    response = page(
        "console/login.html",
        status_code=status,
        title="Sign in",
        session=None,
        form_token=token,
        error=error,
        email=email,
        next=next_,
    )
    with_presession(request, response, token, "/console")
    return response


class ConsoleAuthController(Controller):
    path = "/"
    include_in_schema = False

    @get("/login", operation_id="consoleLoginPage")
    async def login_page(
        self,
        request: Request[Any, Any, Any],
        next_: Annotated[str | None, QueryParameter(name="next")] = None,
    ) -> Template:
        return _login_page(request, next_=_safe_next(next_))

    @post("/login", operation_id="consoleLogin", status_code=303)
    async def login(
        self, request: Request[Any, Any, Any], db_session: DbSession, gateway_settings: Settings
    ) -> Response[Any]:
        form = await checked_presession_form(request)
        email, password = form.get("email", ""), form.get("password", "")
        next_ = _safe_next(form.get("next"))
        try:
            user = await authenticate(
                db_session,
                gateway_settings,
                email=email,
                password=password,
                client_address=request.client.host if request.client else None,
            )
        except ApplicationError as exc:
            response = _login_page(
                request, status=exc.status_code, error=exc.detail, email=email, next_=next_
            )
            response.headers.update(exc.headers)
            return response
        if user.role != "admin":
            return _login_page(request, status=403, error=NotAdmin, email=email, next_=next_)
        engine: AsyncEngine = request.app.state.db_engine
        token = await start_console_session(engine, user.id, gateway_settings.console_session_seconds)
        redirect = Redirect(next_, status_code=303, headers=PAGE_HEADERS)
        redirect.cookies.append(
            session_cookie(
                request, CONSOLE_COOKIE, token, "/console", gateway_settings.console_session_seconds
            )
        )
        return redirect

    @post("/logout", operation_id="consoleLogout", status_code=303)
    async def logout(self, request: Request[Any, Any, Any]) -> Response[Any]:
        engine: AsyncEngine = request.app.state.db_engine
        session = await console_session(engine, request.cookies.get(CONSOLE_COOKIE))
        if session is not None:
            await checked_form(request, session.csrf_token)
            await end_session(engine, session.token_hash)
        response = Redirect("/console/login", status_code=303, headers=PAGE_HEADERS)
        response.cookies.append(cleared_cookie(request, CONSOLE_COOKIE, "/console"))
        return response
