"""What the Stripe tests share: ids, Stripe's answers mocked with respx, a payment taken to a
state through payment_ms's API."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qs

import httpx
import respx

from payment_ms.settings import PaymentSettings
from tests.payment_ms.conftest import payment_body
from tests.payment_ms.inprocess import (
    STRIPE,
    payment_intent_object,
    session_object,
)

STRIPE_ATTEMPTS = PaymentSettings.model_fields["stripe_max_attempts"].default
SESSION_ID = "cs_test_a1b2c3d4e5f6"
INTENT_ID = "pi_3MtwBwLkdIwHu7ix28a3tqPa"


def _form(request: httpx.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


def _mock_create(stripe: respx.MockRouter, **kwargs: Any) -> respx.Route:
    def respond(request: httpx.Request) -> httpx.Response:
        payment_id = _form(request)["client_reference_id"]
        return httpx.Response(200, json=session_object(SESSION_ID, payment_id, **kwargs))

    return stripe.post(f"{STRIPE}/v1/checkout/sessions").mock(side_effect=respond)


async def _create(
    client: httpx.AsyncClient, key: str = "k1", body: dict[str, Any] | None = None, **overrides: Any
) -> httpx.Response:
    body = body or payment_body(provider="stripe", **overrides)
    return await client.post("/api/payments", json=body, headers={"Idempotency-Key": key})


def _mock_retrieve(stripe: respx.MockRouter, payment_id: str, **kwargs: Any) -> respx.Route:
    return stripe.get(f"{STRIPE}/v1/checkout/sessions/{SESSION_ID}").mock(
        return_value=httpx.Response(200, json=session_object(SESSION_ID, payment_id, **kwargs))
    )


async def _stripe_payment(client: httpx.AsyncClient, stripe: respx.MockRouter, **overrides: Any) -> str:
    _mock_create(stripe)
    response = await _create(client, key=uuid.uuid4().hex, **overrides)
    payment_id: str = response.json()["id"]
    return payment_id


def _mock_paid(stripe: respx.MockRouter, payment_id: str) -> respx.Route:
    """Stripe's session of ``payment_id``, complete and paid (its PaymentIntent succeeded)."""
    intent = payment_intent_object(INTENT_ID, status="succeeded")
    return _mock_retrieve(stripe, payment_id, status="complete", payment_status="paid", payment_intent=intent)


def _mock_authorized(stripe: respx.MockRouter, payment_id: str) -> respx.Route:
    """Stripe's session of ``payment_id``, complete and unpaid: its PaymentIntent awaits capture."""
    intent = payment_intent_object(INTENT_ID, status="requires_capture")
    return _mock_retrieve(
        stripe, payment_id, status="complete", payment_status="unpaid", payment_intent=intent
    )


async def _authorized(client: httpx.AsyncClient, stripe: respx.MockRouter) -> str:
    pid = await _stripe_payment(client, stripe, capture_method="manual")
    _mock_authorized(stripe, pid)
    verified = await client.post(f"/api/payments/{pid}/verify")
    assert verified.json()["status"] == "authorized", verified.text
    return pid


async def _paid(client: httpx.AsyncClient, stripe: respx.MockRouter) -> str:
    pid = await _stripe_payment(client, stripe)
    _mock_paid(stripe, pid)
    verified = await client.post(f"/api/payments/{pid}/verify")
    assert verified.json()["status"] == "succeeded", verified.text
    return pid
