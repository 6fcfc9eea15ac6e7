"""The service token between gateway and payment_ms, compared in constant time."""

from __future__ import annotations

import hmac
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from shared.problems import AuthenticationError

SERVICE_TOKEN_HEADER = "X-Service-Token"
REQUEST_ID_HEADER = "X-Request-ID"


def tokens_match(presented: str | None, expected: str) -> bool:
    if not presented or not expected:
        return False
    return hmac.compare_digest(presented.encode(), expected.encode())


async def requires_service_token(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """The guard of every service-to-service route (payment_ms's ``/api``, the gateway's ``/internal``):
    the service token of the app's settings, never a user's JWT."""
    expected = connection.app.state.settings.paygate.service_token.get_secret_value()
    if not tokens_match(connection.headers.get(SERVICE_TOKEN_HEADER), expected):
        raise AuthenticationError("A valid X-Service-Token header is required.")
