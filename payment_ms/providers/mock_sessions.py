"""The mock provider's checkout sessions: an unguessable token in the checkout URL, not the payment id.

A token is ``base64url(payment id ‖ expiry ‖ HMAC-SHA256(key, payment id ‖ expiry))``: it names its payment
and when it stops working, and only payment_ms can mint one. The key is derived from
``PAYGATE_SERVICE_TOKEN`` (required strong outside dev), so nothing to look a token up by is stored: a copy
of the database holds no token hash to attack and no table of sessions to keep. Rotating the service token
ends every open mock checkout. The page's CSRF token is derived from the session the same way under its own
label: one per session, checked on every form post with the request's Origin.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

_MAC_BYTES = 32
_PAYLOAD_BYTES = 16 + 8
TOKEN_LENGTH = 75  # base64url of 56 bytes, unpadded


class InvalidSessionTokenError(ValueError):
    """Not a token this payment_ms minted (malformed, altered, or minted under another key)."""


@dataclass(frozen=True, slots=True)
class MockSession:
    payment_id: uuid.UUID
    expires_at: datetime
    payload: bytes

    def expired(self, now: datetime | None = None) -> bool:
        return (now or datetime.now(UTC)) >= self.expires_at


def _mac(label: bytes, payload: bytes, secret: str) -> bytes:
    key = hmac.new(secret.encode(), b"paygate mock checkout session key v1", hashlib.sha256).digest()
    return hmac.new(key, label + payload, hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def issue(payment_id: uuid.UUID, expires_at: datetime, *, secret: str) -> str:
    """``secret``: ``PAYGATE_SERVICE_TOKEN`` (``settings.paygate.service_token``)."""
    payload = payment_id.bytes + int(expires_at.timestamp()).to_bytes(8, "big")
    return _b64(payload + _mac(b"session", payload, secret))


def read(token: str, *, secret: str) -> MockSession:
    if len(token) != TOKEN_LENGTH:
        raise InvalidSessionTokenError("not a checkout token")
    try:
        raw = base64.urlsafe_b64decode(token + "=")
    except ValueError:
        raise InvalidSessionTokenError("not a checkout token") from None
    payload, mac = raw[:_PAYLOAD_BYTES], raw[_PAYLOAD_BYTES:]
    if len(mac) != _MAC_BYTES or not hmac.compare_digest(mac, _mac(b"session", payload, secret)):
        raise InvalidSessionTokenError("not a checkout token")
    expires = datetime.fromtimestamp(int.from_bytes(payload[16:], "big"), UTC)
    return MockSession(uuid.UUID(bytes=payload[:16]), expires, payload)


def csrf_token(session: MockSession, *, secret: str) -> str:
    return _b64(_mac(b"csrf", session.payload, secret))


def csrf_matches(session: MockSession, given: str, *, secret: str) -> bool:
    return hmac.compare_digest(given.encode(), csrf_token(session, secret=secret).encode())
