"""``POST /payment-gateway/webhooks/stripe`` forwards the raw body and Stripe-Signature byte for byte:
a signature over the exact bytes (odd spacing and key order included) still verifies in payment_ms."""

from __future__ import annotations

import hashlib
import hmac
import time

import httpx

from tests.gateway.stack import STRIPE_WEBHOOK_SECRET, Stack

# Shaped like Stripe's Event object; a type payment_ms does not act on is acknowledged.
EVENT = (
    b'{\n  "id": "evt_1QgatewayPassthru",  "object": "event", "api_version": "2024-06-20",\n'
    b'  "created": 1732250000, "type": "customer.created", "livemode": false,\n'
    b'  "data": {"object": {"id": "cus_Q1", "object": "customer", "name": "Z\\u00fcrich \xc3\xa9"}}}'
)


def _signature(body: bytes, secret: str = STRIPE_WEBHOOK_SECRET) -> str:
    timestamp = int(time.time())
    v1 = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={v1}"


async def test_stripe_events_reach_payment_ms_unaltered(stack: Stack, http: httpx.AsyncClient) -> None:
    url = f"{stack.gateway.url}/payment-gateway/webhooks/stripe"
    headers = {"Content-Type": "application/json; charset=utf-8"}
    accepted = await http.post(url, content=EVENT, headers={**headers, "Stripe-Signature": _signature(EVENT)})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["received"] is True

    tampered = EVENT.replace(b"customer.created", b"customer.deleted")
    refused = await http.post(
        url, content=tampered, headers={**headers, "Stripe-Signature": _signature(EVENT)}
    )
    assert refused.status_code == 401 and refused.headers["content-type"] == "application/problem+json"
    unsigned = await http.post(url, content=EVENT, headers=headers)
    assert unsigned.status_code == 400
