"""The one guard of every ``/api`` route: the service token, never a user's JWT."""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from shared.problems import AuthenticationError
from shared.security import SERVICE_TOKEN_HEADER, tokens_match
from shared.settings import get_paygate_settings


async def require_service_token(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    expected = get_paygate_settings().service_token.get_secret_value()
    if not tokens_match(connection.headers.get(SERVICE_TOKEN_HEADER), expected):
        raise AuthenticationError("a valid X-Service-Token header is required")
