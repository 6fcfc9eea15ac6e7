"""Who may call what. A user JWT is only ever read from ``Authorization: Bearer`` on user and admin
routes; the service token only from ``X-Service-Token`` on internal routes
(``shared.security.requires_service_token``). Neither opens the other."""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import replace
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.auth.repositories import Identity, current_identity
from gateway.auth.tokens import AuthUser, InvalidTokenError, VerifiedTokens, can_issue_tokens
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


_verified_tokens = VerifiedTokens()


def authenticate_user(connection: ASGIConnection[Any, Any, Any, Any]) -> AuthUser:
    """Decode the bearer token once per request and keep the user in the scope."""
    cached = connection.scope.get("user")
    if isinstance(cached, AuthUser):
        return cached
    try:
        user = _verified_tokens.decode(_settings(connection), _bearer_token(connection))
    except InvalidTokenError as exc:
        logger.info("access token refused: %s", exc)
        raise AuthenticationError(
            "The access token is invalid or expired.", headers=_BEARER_CHALLENGE
        ) from None
    connection.scope["user"] = user
    return user


class CurrentIdentities:
    """The token's user as the database holds it now (active? which role?), read at most once per
    ``GATEWAY_DISABLED_USER_CHECK_SECONDS`` per user and process (a primary-key read, not one per
    request). A disabled or deleted user, and a changed role, take effect within that window whatever
    the token says: the token only names the user.
    """

    MAX_ENTRIES = 50_000

    def __init__(self) -> None:
        self._read: dict[uuid.UUID, tuple[Identity | None, float]] = {}

    async def get(self, engine: AsyncEngine, user_id: uuid.UUID, *, max_age: float) -> Identity | None:
        """The user's row (None: no such user), at most ``max_age`` seconds old."""
        now = time.monotonic()
        known = self._read.get(user_id)
        if known is not None and now - known[1] < max_age:
            return known[0]
        async with raw_connection(engine) as conn:
            identity = await current_identity(conn, user_id)
        if len(self._read) >= self.MAX_ENTRIES:
            self._read.clear()
        self._read[user_id] = (identity, now)
        return identity


_identities = CurrentIdentities()


def _refused(why: str) -> AuthenticationError:
    logger.info("access token refused: %s", why)
    return AuthenticationError("The access token is invalid or expired.", headers=_BEARER_CHALLENGE)


async def _active_user(connection: ASGIConnection[Any, Any, Any, Any]) -> AuthUser:
    """The token's user with the role its row has now; the handlers' ``current_user`` is this one."""
    user = authenticate_user(connection)
    settings = _settings(connection)
    identity = await _identities.get(
        connection.app.state.db_engine, user.id, max_age=settings.disabled_user_check_seconds
    )
    if identity is None:
        if can_issue_tokens(settings):  # our own token, and its user was deleted since
            raise _refused("the user no longer exists")
        return user  # an external identity provider's user this database does not hold: its claims
    if not identity.is_active:
        raise _refused("the user is disabled")
    if identity.role != user.role:
        user = replace(user, role=identity.role)
        connection.scope["user"] = user
    return user


# Guards are coroutines: Litestar runs a plain ``def`` guard in a worker thread on every request.
async def requires_user(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    await _active_user(connection)


async def requires_admin(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    if not (await _active_user(connection)).is_admin:
        raise PermissionDeniedException("Administrators only.")
