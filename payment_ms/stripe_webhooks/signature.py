"""``Stripe-Signature: t=<unix>,v1=<hex>,v1=<hex>``: HMAC-SHA256 of ``"{t}.{payload}"``.

Any ``v1`` may match any configured secret (several during a rotation); a timestamp further than the
tolerance from now (300 s by default) is refused, so a captured request cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Sequence


class SignatureError(Exception):
    pass


def sign(payload: bytes, secret: str, timestamp: int) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()


def verify(
    payload: bytes,
    header: str | None,
    secrets: Sequence[str],
    *,
    tolerance_seconds: int,
    now: float | None = None,
) -> None:
    if not secrets:
        raise SignatureError("no webhook secret is configured")
    if not header:
        raise SignatureError("missing Stripe-Signature header")
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        if name == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise SignatureError("malformed timestamp") from None
        elif name == "v1" and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise SignatureError("malformed Stripe-Signature header")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_seconds:
        raise SignatureError("timestamp outside the tolerance")
    matched = False
    for secret in secrets:
        expected = sign(payload, secret, timestamp)
        for signature in signatures:
            # no early exit: every comparison is made, in constant time
            matched |= hmac.compare_digest(expected, signature)
    if not matched:
        raise SignatureError("no signature matches")
