"""The mock provider settles payments by its own provider event, as Stripe's webhooks do: the payer
chooses on the hosted page, nobody calls verify, and the partner hears of it; a dropped event is
what reconciliation is for."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook

from tests.dispatcher.conftest import Receiver, add_partner, fetch
from tests.fixtures.checkout_page import submit_choice
from tests.fixtures.services import TEST_SERVICE_TOKEN, RunningService
from tests.payment_ms.conftest import payment_body

TOKEN = {"X-Service-Token": TEST_SERVICE_TOKEN}


async def _payer_chooses(payment_ms: RunningService, choice: str, **metadata: Any) -> str:
    async with httpx.AsyncClient(base_url=payment_ms.url, timeout=10.0) as client:
        created = await client.post(
            "/api/payments",
            json=payment_body(metadata=metadata),
            headers={**TOKEN, "Idempotency-Key": uuid.uuid4().hex},
        )
        assert created.status_code == 201, created.text
        payment_id: str = created.json()["id"]
        page = await submit_choice(client, payment_ms.url, created.json()["checkout_url"], choice)
        assert page.status_code == 303, page.text
    return payment_id


def _verified(secret: str, got: Any) -> dict[str, Any]:
    event: dict[str, Any] = Webhook(secret).verify(got.body, got.headers)
    return event


async def test_approve_and_decline_reach_the_partner_without_verify(
    db_engine: Any, receiver: Receiver, dispatch: Callable[..., Any], payment_ms: RunningService
) -> None:
    _, secret = await add_partner(db_engine, receiver.url("shop"), ("payment.succeeded", "payment.failed"))
    async with dispatch():
        approved = await _payer_chooses(payment_ms, "approve")
        declined = await _payer_chooses(payment_ms, "decline")
        got = await receiver.wait_count("shop", 2)
    events = {e["data"]["id"]: e for e in (_verified(secret, g) for g in got)}
    assert events[approved]["type"] == "payment.succeeded"
    assert events[approved]["data"]["status"] == "succeeded"
    assert events[declined]["type"] == "payment.failed"
    assert "declined" in events[declined]["data"]["failure_reason"]
    received = await fetch(db_engine, "SELECT provider, type FROM provider_events ORDER BY type")
    assert received == [
        {"provider": "mock", "type": "checkout.approved"},
        {"provider": "mock", "type": "checkout.declined"},
    ]


async def test_a_dropped_mock_event_is_settled_by_reconciliation(
    db_engine: Any, receiver: Receiver, dispatch: Callable[..., Any], payment_ms: RunningService
) -> None:
    await add_partner(db_engine, receiver.url("late"), ("payment.succeeded",))
    dropped = await _payer_chooses(payment_ms, "approve", mock_behavior="drop_event")
    [row] = await fetch(db_engine, "SELECT status, provider_status FROM payments WHERE id = :id", id=dropped)
    assert row == {"status": "pending", "provider_status": "approved"}
    async with dispatch(reconcile_interval_seconds=0.2, reconcile_after_seconds=0.01):
        (got,) = await receiver.wait_count("late", 1)
    body = json.loads(got.body)
    assert (body["type"], body["data"]["id"], body["data"]["status"]) == (
        "payment.succeeded",
        dropped,
        "succeeded",
    )
    # nothing came through the provider-event intake: reconciliation asked the provider
    assert await fetch(db_engine, "SELECT id FROM provider_events") == []
