"""User access tokens for the checkout scenario: minted by the gateway's own ``issue_access_token``
with the secret the bench configures the gateway with, so the claims are exactly what it checks."""

from __future__ import annotations

import uuid

from pydantic import SecretStr

from gateway.auth.tokens import issue_access_token
from gateway.settings import GatewaySettings

TTL_SECONDS = 3600  # longer than any bench run


def mint(secret: str, user_id: uuid.UUID, role: str = "user", *, email: str) -> str:
    settings = GatewaySettings(jwt_secret=SecretStr(secret), jwt_ttl_seconds=TTL_SECONDS)
    return issue_access_token(settings, user_id=user_id, email=email, role=role)
