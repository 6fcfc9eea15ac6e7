"""Who may see a console page: a live console session of an active admin, checked on every request."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Request, Response
from litestar.response import Redirect

from gateway.web.pages import PAGE_HEADERS
from gateway.web.sessions import CONSOLE_COOKIE, ConsoleSession, LoginRequired, console_session, session_guard

LOGIN_PATH = "/console/login"


requires_console_session = session_guard(console_session, CONSOLE_COOKIE, "console_session")


def provide_console_session(request: Request[Any, Any, Any]) -> ConsoleSession:
    session: ConsoleSession = request.state.console_session
    return session


def to_login(request: Request[Any, Any, Any], _: LoginRequired) -> Response[Any]:
    target = request.url.path if request.method == "GET" else "/console"
    return Redirect(f"{LOGIN_PATH}?next={quote(target)}", status_code=303, headers=PAGE_HEADERS)
