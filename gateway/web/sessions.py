"""Browser sessions of the console and the portal, and their CSRF tokens.

The cookie holds a random token (HttpOnly, SameSite=Lax, Secure except in dev over plain http); the
database holds its SHA-256 with the session's CSRF token, owner and expiry, so a session can be
revoked and expires server-side whatever the browser keeps. Forms before a session exists (sign-in,
opening a portal link) use a double-submit token: a random cookie the form must repeat.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.handlers.base import BaseRouteHandler
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.web import repositories
from shared.problems import ApplicationError
from shared.security import tokens_match

CONSOLE_COOKIE = "paygate_console"
PORTAL_COOKIE = "paygate_portal"
PRESESSION_COOKIE = "paygate_form"
CSRF_FIELD = "csrf_token"


class CsrfError(ApplicationError, status=403, code="csrf", title="The form expired"):
    """A form without its session's CSRF token: refused (403) before anything is read from it."""

    def __init__(self) -> None:
        super().__init__("The form expired or did not come from this site; reload the page and try again.")


class LoginRequired(Exception):
    """No live session: the console sends the browser to its sign-in page, the portal explains."""


def new_token(prefix: str = "") -> str:
    return prefix + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def secure_cookies(request: Request[Any, Any, Any]) -> bool:
    """Secure everywhere except dev over plain http (the browser would drop the cookie there)."""
    return not (request.app.state.settings.paygate.is_dev and request.url.scheme == "http")


def session_cookie(request: Request[Any, Any, Any], name: str, value: str, path: str, max_age: int) -> Cookie:
    return Cookie(
        key=name,
        value=value,
        path=path,
        max_age=max_age,
        httponly=True,
        secure=secure_cookies(request),
        samesite="lax",
    )


def cleared_cookie(request: Request[Any, Any, Any], name: str, path: str) -> Cookie:
    return session_cookie(request, name, "", path, 0)


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    token_hash: str
    user_id: uuid.UUID
    email: str
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class PortalSession:
    token_hash: str
    partner_id: uuid.UUID
    csrf_token: str
    expires_at: datetime


async def _start_session(engine: AsyncEngine, kind: str, lifetime: int, **owner: uuid.UUID) -> str:
    """A new session of ``kind`` for ``owner`` (its user, or its partner and portal link): its token."""
    token = new_token()
    values = {
        "token_hash": token_hash(token),
        "kind": kind,
        **owner,
        "csrf_token": secrets.token_urlsafe(32),
        "expires_at": datetime.now(UTC) + timedelta(seconds=lifetime),
    }
    async with engine.begin() as conn:
        await repositories.insert_session(conn, values)
    return token


async def start_console_session(engine: AsyncEngine, user_id: uuid.UUID, lifetime: int) -> str:
    return await _start_session(engine, "console", lifetime, user_id=user_id)


async def start_portal_session(
    engine: AsyncEngine, partner_id: uuid.UUID, link_id: uuid.UUID, lifetime: int
) -> str:
    return await _start_session(engine, "portal", lifetime, partner_id=partner_id, portal_link_id=link_id)


async def console_session(engine: AsyncEngine, token: str | None) -> ConsoleSession | None:
    if not token:
        return None
    async with engine.connect() as conn:
        row = await repositories.live_console_session(conn, token_hash(token))
    if row is None or not row["is_active"] or row["role"] != "admin":
        return None
    return ConsoleSession(
        row["token_hash"], row["user_id"], row["email"], row["csrf_token"], row["expires_at"]
    )


async def portal_session(engine: AsyncEngine, token: str | None) -> PortalSession | None:
    if not token:
        return None
    async with engine.connect() as conn:
        row = await repositories.live_portal_session(conn, token_hash(token))
    if row is None:
        return None
    return PortalSession(row["token_hash"], row["partner_id"], row["csrf_token"], row["expires_at"])


def session_guard(
    read: Callable[[AsyncEngine, str | None], Awaitable[object | None]], cookie: str, state_key: str
) -> Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]]:
    """A guard: the session ``read`` finds for the ``cookie``'s token, kept in ``connection.state``
    under ``state_key``; without one, ``LoginRequired`` (each area answers it its own way)."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        session = await read(connection.app.state.db_engine, connection.cookies.get(cookie))
        if session is None:
            raise LoginRequired
        setattr(connection.state, state_key, session)

    return guard


async def end_session(engine: AsyncEngine, hashed: str) -> None:
    async with engine.begin() as conn:
        await repositories.revoke_session(conn, hashed)


async def checked_form(request: Request[Any, Any, Any], expected: str) -> dict[str, str]:
    """The submitted form, refused (403) unless it carries the session's CSRF token."""
    form = await request.form()
    values = {key: str(value) for key, value in form.items()}
    if not tokens_match(values.get(CSRF_FIELD), expected):
        raise CsrfError
    return values


async def form_list(request: Request[Any, Any, Any], name: str) -> list[str]:
    """Every value of a repeated field (checkboxes); call after ``checked_form``."""
    form = await request.form()
    return [str(v) for v in form.getall(name)] if name in form else []


def presession_token(request: Request[Any, Any, Any]) -> str:
    """The double-submit token of a sign-in form: the browser's, or a new one (set by ``with_presession``)."""
    current = request.cookies.get(PRESESSION_COOKIE)
    return current if current and len(current) >= 32 else new_token()


def with_presession(request: Request[Any, Any, Any], response: Response[Any], value: str, path: str) -> None:
    response.cookies.append(session_cookie(request, PRESESSION_COOKIE, value, path, 3600))


async def checked_presession_form(request: Request[Any, Any, Any]) -> dict[str, str]:
    expected = request.cookies.get(PRESESSION_COOKIE) or ""
    return await checked_form(request, expected)
