"""Who may see a console page: a live console session of an active admin, checked on every request."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Request, Response
from litestar.response import Redirect

from gateway.web.pages import PAGE_HEADERS
from gateway.web.sessions import CONSOLE_COOKIE, LoginRequired, console_session, session_guard
from gateway.web.visits import Pages, visit_provider

LOGIN_PATH = "/console/login"


requires_console_session = session_guard(console_session, CONSOLE_COOKIE, "console_session")


class ConsolePages(Pages):
    """The console's page controllers: an admin's session and its ``visit``."""

    guards = [requires_console_session]
    dependencies = {"visit": visit_provider("console_session")}


def to_login(request: Request[Any, Any, Any], _: LoginRequired) -> Response[Any]:
    target = request.url.path if request.method == "GET" else "/console"
    return Redirect(f"{LOGIN_PATH}?next={quote(target)}", status_code=303, headers=PAGE_HEADERS)
