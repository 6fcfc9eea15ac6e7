"""Who may call what. A user JWT is only ever read from ``Authorization: Bearer`` on user and admin
routes; the service token only from ``X-Service-Token`` on internal routes
(``shared.security.requires_service_token``). Neither opens the other."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.auth.tokens import AuthUser, InvalidTokenError, decode_access_token
from gateway.settings import GatewaySettings
from shared.db import raw_connection
from shared.problems import AuthenticationError

logger = logging.getLogger("gateway.auth")

_BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="paygate"'}


def _bearer_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    header = connection.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("A bearer access token is required.", headers=_BEARER_CHALLENGE)
    return token.strip()


def _settings(connection: ASGIConnection[Any, Any, Any, Any]) -> GatewaySettings:
    settings: GatewaySettings = connection.app.state.settings
    return settings


def authenticate_user(connection: ASGIConnection[Any, Any, Any, Any]) -> AuthUser:
    """Decode the bearer token once per request and keep the user in the scope."""
    cached = connection.scope.get("user")
    if isinstance(cached, AuthUser):
        return cached
    try:
        user = decode_access_token(_settings(connection), _bearer_token(connection))
    except InvalidTokenError as exc:
        logger.info("access token refused: %s", exc)
        raise AuthenticationError(
            "The access token is invalid or expired.", headers=_BEARER_CHALLENGE
        ) from None
    connection.scope["user"] = user
    return user


class DisabledUsers:
    """Whether a token's user was disabled since the token was issued, asked of the database at most
    once per ``GATEWAY_DISABLED_USER_CHECK_SECONDS`` per user (a primary-key read, not one per request).

    Only a user row that exists and is inactive refuses: tokens of an external identity provider may
    name users this database does not hold, and ownership checks find nothing of theirs anyway.
    """

    MAX_ENTRIES = 50_000

    def __init__(self) -> None:
        self._checked: dict[uuid.UUID, tuple[bool, float]] = {}

    async def is_disabled(self, engine: AsyncEngine, user_id: uuid.UUID, *, max_age: float) -> bool:
        now = time.monotonic()
        known = self._checked.get(user_id)
        if known is not None and now - known[1] < max_age:
            return known[0]
        async with raw_connection(engine) as conn:
            active = await conn.fetchval("SELECT is_active FROM users WHERE id = $1", user_id)
        disabled = active is False
        if len(self._checked) >= self.MAX_ENTRIES:
            self._checked.clear()
        self._checked[user_id] = (disabled, now)
        return disabled


_disabled_users = DisabledUsers()


async def _active_user(connection: ASGIConnection[Any, Any, Any, Any]) -> AuthUser:
    user = authenticate_user(connection)
    engine = connection.app.state.db_engine
    max_age = _settings(connection).disabled_user_check_seconds
    if await _disabled_users.is_disabled(engine, user.id, max_age=max_age):
        logger.info("access token of a disabled user refused")
        raise AuthenticationError("The access token is invalid or expired.", headers=_BEARER_CHALLENGE)
    return user


# Guards are coroutines: Litestar runs a plain ``def`` guard in a worker thread on every request.
async def requires_user(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    await _active_user(connection)


async def requires_admin(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    if not (await _active_user(connection)).is_admin:
        raise PermissionDeniedException("Administrators only.")
