"""Verify asks the provider outside any transaction; what changed meanwhile must not be overwritten by
its (then stale) answer. payment_ms runs in-process so the test can hold the provider's answer until
the competing change is done: a gate, not a sleep."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import parse_qs

import httpx
import pytest
import respx
from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncEngine

from payment_ms.providers.base import Outcome
from payment_ms.providers.mock import MockProvider
from payment_ms.stripe_webhooks.signature import sign
from tests.fixtures.checkout_page import page_path
from tests.payment_ms.conftest import choose_on_mock_page, create_payment, event_types, post_payment
from tests.payment_ms.fake_stripe import stripe_event as _event
from tests.payment_ms.inprocess import (
    STRIPE,
    WEBHOOK_SECRET_NEW,
    completed_session,
    payment_intent_object,
    session_object,
)

SESSION_ID = "cs_test_race_0123456789"
INTENT_ID = "pi_3RaceLkdIwHu7ix28a3tqPa"
DEADLINE = 10.0


class Gate:
    """Holds the first provider answer until the test has made its competing change."""

    def __init__(self) -> None:
        self.asked = asyncio.Event()
        self.release = asyncio.Event()
        self.calls = 0

    async def hold(self) -> None:
        self.calls += 1
        if self.calls == 1:
            self.asked.set()
            await self.release.wait()


async def _provider_status(db_engine: AsyncEngine, payment_id: str) -> tuple[str, str]:
    async with db_engine.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT status, provider_status FROM payments WHERE id = :p"), {"p": payment_id}
            )
        ).one()
    return row.status, row.provider_status


async def test_an_approval_during_a_slow_verify_is_not_lost(
    client: httpx.AsyncClient, db_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the mock's own event is dropped: only verify can settle it here
    payment = await create_payment(client, metadata={"mock_behavior": "drop_event"})
    gate = Gate()
    ask = MockProvider.fetch_outcome

    async def slow_fetch_outcome(self: MockProvider, row: RowMapping) -> Outcome:
        # The mock provider reads the row it is given: the answer is computed from the state verify
        # read BEFORE the payer approved, exactly as a slow real provider answers about the past.
        answer = await ask(self, row)
        await gate.hold()
        return answer

    monkeypatch.setattr(MockProvider, "fetch_outcome", slow_fetch_outcome)
    verify = asyncio.create_task(client.post(f"/api/payments/{payment['id']}/verify"))
    async with asyncio.timeout(DEADLINE):
        await gate.asked.wait()
    approved = await choose_on_mock_page(client, payment, "approve")
    assert approved.status_code in (200, 303), approved.text
    assert await _provider_status(db_engine, payment["id"]) == ("pending", "approved")
    gate.release.set()
    async with asyncio.timeout(DEADLINE):
        response = await verify

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "succeeded"  # asked again about the approved state
    assert gate.calls == 2
    assert await _provider_status(db_engine, payment["id"]) == ("succeeded", "approved")
    assert await event_types(db_engine, payment["id"]) == ["payment.created", "payment.succeeded"]
    # and the page stays closed
    page = await client.get(page_path(payment["checkout_url"]), headers={"X-Service-Token": ""})
    assert 'value="approve"' not in page.text


async def test_a_webhook_during_a_slow_stripe_verify_is_not_undone(
    client: httpx.AsyncClient, stripe: respx.MockRouter, db_engine: AsyncEngine
) -> None:
    """Stripe answers verify ``open/unpaid``; before that answer is applied, the completed-session
    webhook moves the payment to processing. The stale answer must not put ``open/unpaid`` back."""

    def created(request: httpx.Request) -> httpx.Response:
        payment_id = parse_qs(request.content.decode())["client_reference_id"][0]
        return httpx.Response(200, json=session_object(SESSION_ID, payment_id))

    stripe.post(f"{STRIPE}/v1/checkout/sessions").mock(side_effect=created)
    response = await post_payment(client, provider="stripe")
    assert response.status_code == 201, response.text
    pid = response.json()["id"]
    intent = payment_intent_object(INTENT_ID, status="processing")
    completed = completed_session(SESSION_ID, pid, "unpaid", intent)
    gate = Gate()

    async def retrieve(request: httpx.Request) -> httpx.Response:
        first = gate.calls == 0
        await gate.hold()
        return httpx.Response(200, json=session_object(SESSION_ID, pid) if first else completed)

    stripe.get(f"{STRIPE}/v1/checkout/sessions/{SESSION_ID}").mock(side_effect=retrieve)
    verify = asyncio.create_task(client.post(f"/api/payments/{pid}/verify"))
    async with asyncio.timeout(DEADLINE):
        await gate.asked.wait()
    payload = _event("checkout.session.completed", completed)
    t = int(time.time())
    hook = await client.post(
        "/api/providers/stripe/webhook",
        content=payload,
        headers={"Stripe-Signature": f"t={t},v1={sign(payload, WEBHOOK_SECRET_NEW, t)}"},
    )
    assert hook.status_code == 200, hook.text
    assert await _provider_status(db_engine, pid) == ("processing", "complete/unpaid")
    gate.release.set()
    async with asyncio.timeout(DEADLINE):
        verified = await verify

    assert verified.status_code == 200, verified.text
    assert verified.json()["status"] == "processing"
    assert await _provider_status(db_engine, pid) == ("processing", "complete/unpaid")
    assert await event_types(db_engine, pid) == ["payment.created", "payment.processing"]
