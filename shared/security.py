"""The service token between gateway and payment_ms, compared in constant time."""

from __future__ import annotations

import hmac

SERVICE_TOKEN_HEADER = "X-Service-Token"
REQUEST_ID_HEADER = "X-Request-ID"


def tokens_match(presented: str | None, expected: str) -> bool:
    if not presented or not expected:
        return False
    return hmac.compare_digest(presented.encode(), expected.encode())
