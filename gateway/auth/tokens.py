"""Access tokens (JWT): issued by ``/auth/login``, checked on every user call.

Only the configured algorithm is accepted (``algorithms=[configured]``), so ``alg: none`` and
algorithm confusion (an RS256 public key used as an HS256 secret) are refused by construction.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
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
    return _verify(settings, token)[0]


def _verify(settings: GatewaySettings, token: str) -> tuple[AuthUser, float]:
    """The token's user, and until when (epoch seconds) PyJWT would still accept it."""
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
    user = AuthUser(id=user_id, email=email if isinstance(email, str) else None, role=role)
    return user, float(claims["exp"]) + settings.jwt_leeway_seconds


class VerifiedTokens:
    """Access tokens this process already verified, with their user, until they expire: a payer sends
    the same token with every request of its life, and checking its signature and claims again was
    most of the gateway's authentication cost (BENCHMARKS.md, issue 16). Keyed by the token AND what
    it was verified with (key, algorithm, audience, issuer, leeway), so another configuration never
    accepts it unchecked; bounded (cleared when full). Who the user is NOW (disabled, role) is
    ``CurrentIdentities``'s business, not the token's."""

    MAX_ENTRIES = 50_000

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._users: dict[tuple[object, ...], tuple[AuthUser, float]] = {}

    def decode(self, settings: GatewaySettings, token: str) -> AuthUser:
        """``decode_access_token``, once per token and configuration until the token expires."""
        key = (
            token,
            _verification_key(settings),
            settings.jwt_algorithm,
            settings.jwt_audience,
            settings.jwt_issuer,
            settings.jwt_leeway_seconds,
        )
        known = self._users.get(key)
        if known is not None and self._clock() < known[1]:
            return known[0]
        user, valid_until = _verify(settings, token)
        if len(self._users) >= self.MAX_ENTRIES:
            self._users.clear()
        self._users[key] = (user, valid_until)
        return user
