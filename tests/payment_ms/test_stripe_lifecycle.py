"""Stripe's whole lifecycle against a STATEFUL fake Stripe (``fake_stripe``): its event set, each
signed as Stripe signs it, duplicates and out-of-order deliveries, refunds pending → succeeded |
failed and made outside paygate, disputes, per-command idempotency keys (a refusal Stripe stored for
one command never answers the next), Stripe-Version and Stripe-Should-Retry, and the cancel of a
session the payer already completed."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from payment_ms.providers.registry import ProviderRegistry
from payment_ms.providers.stripe import StripeProvider
from payment_ms.settings import STRIPE_API_VERSION, PaymentSettings
from tests.fixtures.waiting import eventually
from tests.payment_ms.conftest import create_payment, event_sources, event_types
from tests.payment_ms.fake_stripe import FakeStripe, signed, stripe_event
from tests.payment_ms.inprocess import WEBHOOK_SECRET_NEW

HOOK = "/api/providers/stripe/webhook"


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    stripe = FakeStripe()
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        router.route(host="127.0.0.1").pass_through()
        stripe.install(router)
        yield stripe


@pytest.fixture
async def providers(inprocess_settings: PaymentSettings) -> AsyncIterator[ProviderRegistry]:
    """Providers built from the in-process payment_ms's settings (a test calls Stripe's directly)."""
    registry = ProviderRegistry(inprocess_settings)
    yield registry
    await registry.aclose()


async def _send(
    client: httpx.AsyncClient, event_type: str, obj: dict[str, Any], event_id: str | None = None
) -> dict[str, Any]:
    payload = stripe_event(event_type, obj, event_id)
    response = await client.post(HOOK, content=payload, headers=signed(payload, WEBHOOK_SECRET_NEW))
    assert response.status_code == 200, response.text
    receipt: dict[str, Any] = response.json()
    return receipt


async def _payment(client: httpx.AsyncClient, pid: str) -> dict[str, Any]:
    payment: dict[str, Any] = (await client.get(f"/api/payments/{pid}")).json()
    return payment


async def _checkout(client: httpx.AsyncClient, fake: FakeStripe, **overrides: Any) -> tuple[str, str]:
    pid = (await create_payment(client, provider="stripe", **overrides))["id"]
    sid = next(s for s in fake.sessions if fake.sessions[s]["client_reference_id"] == pid)
    return pid, sid


async def _paid(client: httpx.AsyncClient, fake: FakeStripe) -> tuple[str, str]:
    pid, sid = await _checkout(client, fake)
    await _send(client, "checkout.session.completed", fake.complete(sid))
    assert (await _payment(client, pid))["status"] == "succeeded"
    return pid, sid


async def _authorized(client: httpx.AsyncClient, fake: FakeStripe) -> tuple[str, str]:
    pid, sid = await _checkout(client, fake, capture_method="manual")
    fake.complete(sid, authorize_only=True)
    # the intent's event alone authorizes it (its checkout.session.completed may come later)
    await _send(client, "payment_intent.amount_capturable_updated", fake.intents[fake.intent_of(sid)])
    payment = await _payment(client, pid)
    assert payment["status"] == "authorized" and payment["authorized_at"] is not None
    return pid, sid


async def test_intent_events_duplicates_and_out_of_order(
    client: httpx.AsyncClient, fake: FakeStripe, db_engine: AsyncEngine
) -> None:
    pid, sid = await _checkout(client, fake)
    session = fake.complete(sid)
    intent = fake.intents[fake.intent_of(sid)]
    # payment_intent.succeeded first, then the (older) completed session, then the same event again
    first = await _send(client, "payment_intent.succeeded", intent, event_id="evt_intent_ok")
    assert first == {"received": True, "duplicate": False}
    assert (await _payment(client, pid))["status"] == "succeeded"
    await _send(client, "checkout.session.completed", session)
    again = await _send(client, "payment_intent.succeeded", intent, event_id="evt_intent_ok")
    assert again == {"received": True, "duplicate": True}
    # a late "failed" or "canceled" never moves a succeeded payment back
    await _send(client, "payment_intent.payment_failed", {**intent, "status": "requires_payment_method"})
    await _send(client, "payment_intent.canceled", {**intent, "status": "canceled"})
    assert (await _payment(client, pid))["status"] == "succeeded"
    assert await event_sources(db_engine, pid) == [
        ("payment.created", "payer"),
        ("payment.succeeded", "provider"),
    ]
    # every request carried the pinned API version
    assert fake.requests and {r.headers["stripe-version"] for r in fake.requests} == {STRIPE_API_VERSION}


async def test_a_failed_attempt_in_an_open_checkout_is_not_a_failed_payment(
    client: httpx.AsyncClient, fake: FakeStripe, db_engine: AsyncEngine
) -> None:
    pid, _sid = await _checkout(client, fake)
    declined = {
        "id": "pi_declined_attempt",
        "object": "payment_intent",
        "status": "requires_payment_method",
        "metadata": {"payment_id": pid},
        "payment_method_types": ["card"],
        "last_payment_error": {"code": "card_declined", "message": "Your card was declined."},
    }
    await _send(client, "payment_intent.payment_failed", declined)
    assert (await _payment(client, pid))["status"] == "pending"  # the payer may try another card
    # an asynchronous method failing after completion does fail it
    sepa = {**declined, "payment_method_types": ["sepa_debit"]}
    await _send(client, "payment_intent.processing", {**sepa, "status": "processing"})
    await _send(client, "payment_intent.payment_failed", sepa)
    payment = await _payment(client, pid)
    assert payment["status"] == "failed" and "declined" in payment["failure_reason"]
    assert await event_types(db_engine, pid) == ["payment.created", "payment.processing", "payment.failed"]


async def test_an_authorization_released_or_expired_at_stripe(
    client: httpx.AsyncClient, fake: FakeStripe, db_engine: AsyncEngine
) -> None:
    pid, sid = await _authorized(client, fake)
    canceled = {**fake.intents[fake.intent_of(sid)], "status": "canceled", "cancellation_reason": "automatic"}
    await _send(client, "payment_intent.canceled", canceled)
    payment = await _payment(client, pid)
    assert payment["status"] == "canceled" and "automatic" in payment["failure_reason"]
    # the session's completion arriving afterwards changes nothing
    await _send(client, "checkout.session.completed", fake.sessions[sid] | {"payment_intent": canceled})
    assert await event_types(db_engine, pid) == ["payment.created", "payment.authorized", "payment.canceled"]


async def test_capture_refused_then_allowed_on_the_next_command(
    client: httpx.AsyncClient, fake: FakeStripe, db_engine: AsyncEngine
) -> None:
    pid, sid = await _authorized(client, fake)
    intent = fake.intents[fake.intent_of(sid)]
    intent["status"] = "processing"  # Stripe is still settling the authorization
    url = f"/api/payments/{pid}/capture"
    refused = await client.post(url, json={"amount": 2000}, headers={"Idempotency-Key": "capture-1"})
    assert refused.status_code == 409 and refused.json()["provider_code"] == "payment_intent_unexpected_state"
    intent["status"] = "requires_capture"
    # a retry of THAT command reuses its key: Stripe replays the refusal it stored
    retried = await client.post(url, json={"amount": 2000}, headers={"Idempotency-Key": "capture-1"})
    assert retried.status_code == 409
    assert fake.requests[-1].headers.get("idempotency-key") == fake.requests[-2].headers.get(
        "idempotency-key"
    )
    # the next command has its own key: captured
    captured = await client.post(url, json={"amount": 2000}, headers={"Idempotency-Key": "capture-2"})
    assert captured.status_code == 200, captured.text
    assert (captured.json()["status"], captured.json()["captured_amount"]) == ("succeeded", 2000)
    assert intent["amount_received"] == 2000
    async with db_engine.connect() as conn:
        keys = (await conn.execute(text("SELECT request_key, provider_key FROM payment_commands"))).all()
    assert sorted(k for k, _ in keys) == ["capture-1", "capture-2"] and len({p for _, p in keys}) == 2
    # Stripe's own event of that capture afterwards is no news
    await _send(client, "payment_intent.succeeded", intent)
    assert await event_types(db_engine, pid) == [
        "payment.created",
        "payment.authorized",
        "payment.captured",
        "payment.succeeded",
    ]


async def test_refund_refused_then_allowed_pending_then_settled(
    client: httpx.AsyncClient, fake: FakeStripe, db_engine: AsyncEngine
) -> None:
    pid, _sid = await _paid(client, fake)
    url = f"/api/payments/{pid}/refunds"
    fake.balance = 0
    refused = await client.post(url, json={"amount": 500})
    assert refused.status_code == 409 and refused.json()["provider_code"] == "balance_insufficient"
    fake.balance = 10_000  # topped up: the next refund command (a new key) goes through
    fake.refund_status = "pending"
    pending = await client.post(url, json={"amount": 500})
    assert pending.status_code == 201, pending.text
    body = pending.json()
    assert (body["status"], body["refunded_amount"], body["pending_refund_amount"]) == ("succeeded", 0, 500)
    # what is pending is not refundable again
    over = await client.post(url, json={"amount": 2001})
    assert over.status_code == 422 and over.json()["refundable"] == 2000
    [refund_id] = list(fake.refunds)
    # Stripe's updates: an older "pending" after the success changes nothing
    await _send(client, "refund.updated", fake.settle_refund(refund_id, "succeeded"))
    await _send(client, "charge.refund.updated", {**fake.refunds[refund_id], "status": "pending"})
    payment = await _payment(client, pid)
    assert (payment["status"], payment["refunded_amount"], payment["pending_refund_amount"]) == (
        "partially_refunded",
        500,
        0,
    )
    # a second pending refund that fails gives its amount back
    second = await client.post(url, json={"amount": 700})
    assert second.json()["pending_refund_amount"] == 700
    second_id = next(r for r in fake.refunds if r != refund_id)
    await _send(client, "refund.failed", fake.settle_refund(second_id, "failed"))
    payment = await _payment(client, pid)
    assert (payment["refunded_amount"], payment["pending_refund_amount"]) == (500, 0)
    async with db_engine.connect() as conn:
        states = dict((await conn.execute(text("SELECT provider_refund_id, status FROM refunds"))).all())
    assert states == {refund_id: "succeeded", second_id: "failed"}
    assert await event_types(db_engine, pid) == [
        "payment.created",
        "payment.succeeded",
        "payment.refund_pending",
        "payment.refunded",
        "payment.refund_pending",
        "payment.refund_failed",
    ]


async def test_a_refund_made_in_the_dashboard_reaches_refunded_amount(
    client: httpx.AsyncClient, fake: FakeStripe, db_engine: AsyncEngine
) -> None:
    pid, sid = await _paid(client, fake)
    charge = fake.charges[fake.intents[fake.intent_of(sid)]["latest_charge"]]
    outside = fake.add_refund(charge["id"], 2500, "succeeded")
    # charge.refunded does not carry its refunds at this API version: they are listed from Stripe
    receipt = await _send(client, "charge.refunded", charge)
    assert receipt["duplicate"] is False
    assert any(r.url.path == "/v1/refunds" and r.method == "GET" for r in fake.requests)
    payment = await _payment(client, pid)
    assert (payment["status"], payment["refunded_amount"]) == ("refunded", 2500)
    # the same refund again, by its own event: already known
    await _send(client, "refund.created", outside)
    assert await event_types(db_engine, pid) == ["payment.created", "payment.succeeded", "payment.refunded"]


async def test_disputes_are_recorded_and_announced(
    client: httpx.AsyncClient, fake: FakeStripe, db_engine: AsyncEngine
) -> None:
    pid, sid = await _paid(client, fake)
    intent = fake.intent_of(sid)
    opened = fake.dispute(intent, "needs_response", dispute_id="dp_test_1")
    await _send(client, "charge.dispute.created", opened)
    disputed = (await _payment(client, pid))["dispute"]
    assert disputed == {"id": "dp_test_1", "status": "needs_response", "amount": 2500, "reason": "fraudulent"}
    await _send(client, "charge.dispute.closed", {**opened, "status": "won"})
    await _send(client, "charge.dispute.created", opened)  # late and older: nothing
    payment = await _payment(client, pid)
    assert payment["dispute"]["status"] == "won" and payment["status"] == "succeeded"
    assert await event_types(db_engine, pid) == [
        "payment.created",
        "payment.succeeded",
        "payment.disputed",
        "payment.dispute_closed",
    ]


async def test_cancel_of_a_session_the_payer_completed_settles_it(
    client: httpx.AsyncClient, fake: FakeStripe, db_engine: AsyncEngine
) -> None:
    pid, sid = await _checkout(client, fake)
    fake.complete(sid)  # paid at Stripe; its webhook has not arrived
    refused = await client.post(f"/api/payments/{pid}/cancel")
    assert refused.status_code == 409, refused.text
    assert refused.json()["payment_status"] == "succeeded"
    assert refused.json()["provider_code"] == "checkout_session_not_open"
    assert (await _payment(client, pid))["status"] == "succeeded"
    assert await event_types(db_engine, pid) == ["payment.created", "payment.succeeded"]


async def test_the_fake_models_stripe_idempotency_and_we_honour_should_retry(
    inprocess_url: str, fake: FakeStripe, client: httpx.AsyncClient, providers: ProviderRegistry
) -> None:
    pid, sid = await _paid(client, fake)
    row = {"id": uuid.UUID(pid), "currency": "EUR", "provider_payment_id": fake.intent_of(sid)}
    provider = providers.get("stripe")
    assert isinstance(provider, StripeProvider)
    # while the first request with a key executes, the second gets 409 + Stripe-Should-Retry: true,
    # is retried, and then gets the stored answer: one refund at Stripe
    fake.hold = asyncio.Event()
    first = asyncio.create_task(provider.refund(row, 100, "key-concurrent"))  # type: ignore[arg-type]
    second = asyncio.create_task(provider.refund(row, 100, "key-concurrent"))  # type: ignore[arg-type]
    before = len(fake.requests)

    async def second_was_refused() -> bool:
        return len(fake.requests) >= before + 2  # the first is held; the second got its 409

    await eventually(second_was_refused, what="the concurrent request reached Stripe")
    fake.hold.set()
    answers = await asyncio.gather(first, second)
    assert answers[0].refund_id == answers[1].refund_id and len(fake.refunds) == 1
    assert len(fake.requests) == before + 3  # held, refused with 409 (retry advised), replayed
    # the same key with other parameters: Stripe's 400 idempotency_error, a refusal (never retried)
    fake.hold = None
    before = len(fake.requests)
    with pytest.raises(Exception) as refused:
        await provider.refund(row, 200, "key-concurrent")  # type: ignore[arg-type]
    assert "idempotency_key_reused" in str(refused.value) and len(fake.requests) == before + 1


async def test_stripe_should_retry_is_honoured(client: httpx.AsyncClient, fake: FakeStripe) -> None:
    pid, _ = await _checkout(client, fake)
    before = len(fake.requests)
    # a 500 Stripe says not to retry: asked once, 503 for our caller
    fake.outages = [httpx.Response(500, headers={"Stripe-Should-Retry": "false"}, json={"error": {}})]
    down = await client.post(f"/api/payments/{pid}/verify")
    assert down.status_code == 503 and len(fake.requests) == before + 1
    # a 400 Stripe says to retry (a lock it could not take): retried, and the retry answers
    fake.outages = [httpx.Response(400, headers={"Stripe-Should-Retry": "true"}, json={"error": {}})]
    verified = await client.post(f"/api/payments/{pid}/verify")
    assert verified.status_code == 200 and verified.json()["status"] == "pending"
    assert len(fake.requests) == before + 3
