"""Shared building blocks: money formatting, webhook signatures checked by the reference library,
request ids echoed across HTTP."""

from __future__ import annotations

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from shared import webhooks
from shared.money import CURRENCY_EXPONENTS, format_minor_units, is_known_currency
from tests.fixtures.services import RunningService


def test_currency_exponents_follow_iso_4217() -> None:
    assert (CURRENCY_EXPONENTS["JPY"], CURRENCY_EXPONENTS["EUR"], CURRENCY_EXPONENTS["KWD"]) == (0, 2, 3)
    assert not is_known_currency("XAU")
    assert not is_known_currency("ABC")
    assert format_minor_units(2500, "EUR") == "25.00 EUR"
    assert format_minor_units(1234, "KWD") == "1.234 KWD"
    assert format_minor_units(120000, "JPY") == "120000 JPY"


def test_our_signature_verifies_with_the_standard_webhooks_library() -> None:
    secret = webhooks.generate_secret()
    body = b'{"type":"payment.succeeded"}'
    import time

    ts = int(time.time())
    header = webhooks.signature_header([webhooks.secret_key(secret)], "msg_1", ts, body)
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(ts), "webhook-signature": header}
    assert Webhook(secret).verify(body, headers) == {"type": "payment.succeeded"}
    webhooks.verify(secret, headers, body)
    with pytest.raises(webhooks.WebhookVerificationError):
        webhooks.verify(secret, headers, body + b" ")
    with pytest.raises(webhooks.WebhookVerificationError):
        webhooks.verify(secret, headers, body, now=ts + 301)


async def test_request_id_is_echoed_or_made(payment_ms: RunningService, http: httpx.AsyncClient) -> None:
    given = await http.get(f"{payment_ms.url}/health", headers={"X-Request-ID": "req-abc.123"})
    assert given.headers["x-request-id"] == "req-abc.123"
    made = await http.get(f"{payment_ms.url}/health", headers={"X-Request-ID": "bad id with spaces"})
    assert made.headers["x-request-id"] != "bad id with spaces"
    assert len(made.headers["x-request-id"]) == 32
