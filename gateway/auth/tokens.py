"""Access tokens (JWT): issued by ``/auth/login``, checked on every user call.

Only the configured algorithm is accepted (``algorithms=[configured]``), so ``alg: none`` and
algorithm confusion (an RS256 public key used as an HS256 secret) are refused by construction.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import jwt

from gateway.settings import GatewaySettings
from shared.models import USER_ROLES


class InvalidTokenError(Exception):
    """Any reason a token is not accepted (the reason is logged, never shown)."""


@dataclass(frozen=True, slots=True)
class AuthUser:
    id: uuid.UUID
    email: str | None
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def _verification_key(settings: GatewaySettings) -> str:
    return settings.jwt_secret.get_secret_value() if settings.is_symmetric else settings.jwt_public_key


def _signing_key(settings: GatewaySettings) -> str | None:
    if settings.is_symmetric:
        return settings.jwt_secret.get_secret_value()
    return settings.jwt_private_key.get_secret_value() or None


def can_issue_tokens(settings: GatewaySettings) -> bool:
    return _signing_key(settings) is not None


def issue_access_token(
    settings: GatewaySettings, *, user_id: uuid.UUID, email: str, role: str, now: int | None = None
) -> str:
    key = _signing_key(settings)
    if key is None:
        raise RuntimeError("no signing key: tokens come from the external identity provider")
    issued_at = int(time.time()) if now is None else now
    claims = {
        "sub": str(user_id),
        "email": email,
        "role": role,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": issued_at,
        "nbf": issued_at,
        "exp": issued_at + settings.jwt_ttl_seconds,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, key, algorithm=settings.jwt_algorithm)


def decode_access_token(settings: GatewaySettings, token: str) -> AuthUser:
    try:
        claims = jwt.decode(
            token,
            _verification_key(settings),
            algorithms=[settings.jwt_algorithm],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            leeway=settings.jwt_leeway_seconds,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )
        user_id = uuid.UUID(str(claims["sub"]))
    except (jwt.PyJWTError, ValueError) as exc:
        raise InvalidTokenError(type(exc).__name__) from exc
    role = claims.get("role", "user")
    if role not in USER_ROLES:
        raise InvalidTokenError("unknown role")
    email = claims.get("email")
    return AuthUser(id=user_id, email=email if isinstance(email, str) else None, role=role)
