"""Who may call what. A user JWT is only ever read from ``Authorization: Bearer`` on user and admin
routes; the service token only from ``X-Service-Token`` on internal routes. Neither opens the other."""

from __future__ import annotations

import logging
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from gateway.auth.tokens import AuthUser, InvalidTokenError, decode_access_token
from gateway.settings import get_gateway_settings
from shared.problems import AuthenticationError
from shared.security import SERVICE_TOKEN_HEADER, tokens_match
from shared.settings import get_paygate_settings

logger = logging.getLogger("gateway.auth")

_BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="paygate"'}


def _bearer_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    header = connection.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("A bearer access token is required.", headers=_BEARER_CHALLENGE)
    return token.strip()


def authenticate_user(connection: ASGIConnection[Any, Any, Any, Any]) -> AuthUser:
    """Decode the bearer token once per request and keep the user in the scope."""
    cached = connection.scope.get("user")
    if isinstance(cached, AuthUser):
        return cached
    try:
        user = decode_access_token(get_gateway_settings(), _bearer_token(connection))
    except InvalidTokenError as exc:
        logger.info("access token refused: %s", exc)
        raise AuthenticationError(
            "The access token is invalid or expired.", headers=_BEARER_CHALLENGE
        ) from None
    connection.scope["user"] = user
    return user


async def requires_user(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    authenticate_user(connection)


async def requires_admin(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    if not authenticate_user(connection).is_admin:
        raise PermissionDeniedException("Administrators only.")


async def requires_service_token(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    presented = connection.headers.get(SERVICE_TOKEN_HEADER)
    expected = get_paygate_settings().service_token.get_secret_value()
    if not tokens_match(presented, expected):
        raise AuthenticationError("A valid service token is required.")
