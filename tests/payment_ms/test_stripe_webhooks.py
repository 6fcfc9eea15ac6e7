"""Stripe's webhook: signatures, the events that settle a payment, once, and the races with verify
and cancel (payment_ms in-process, api.stripe.com mocked by respx)."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import respx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.payment_ms.conftest import (
    AppSettings,
    assert_nothing_created,
    count_rows,
    event_types,
    post_payment,
)
from tests.payment_ms.fake_stripe import signed as _signed
from tests.payment_ms.fake_stripe import stripe_event as _event
from tests.payment_ms.inprocess import (
    STRIPE,
    WEBHOOK_SECRET_NEW,
    WEBHOOK_SECRET_OLD,
    session_object,
    stripe_error,
)
from tests.payment_ms.stripe_steps import INTENT_ID, SESSION_ID, _stripe_payment


async def test_webhook_completes_the_payment_once(
    client: httpx.AsyncClient, stripe: respx.MockRouter, db_engine: AsyncEngine
) -> None:
    pid = await _stripe_payment(client, stripe)
    payload = _event(
        "checkout.session.completed",
        session_object(SESSION_ID, pid, status="complete", payment_status="paid", payment_intent=INTENT_ID),
        event_id="evt_once",
    )
    hook = "/api/providers/stripe/webhook"
    no_token = {"X-Service-Token": ""}
    first = await client.post(
        hook, content=payload, headers={**_signed(payload, WEBHOOK_SECRET_NEW), **no_token}
    )
    assert first.status_code == 200 and first.json() == {"received": True, "duplicate": False}
    second = await client.post(hook, content=payload, headers=_signed(payload, WEBHOOK_SECRET_NEW))
    assert second.status_code == 200 and second.json()["duplicate"] is True
    payment = (await client.get(f"/api/payments/{pid}")).json()
    assert payment["status"] == "succeeded"
    assert await event_types(db_engine, pid) == ["payment.created", "payment.succeeded"]
    async with db_engine.connect() as conn:
        stored = (await conn.execute(text("SELECT provider_payment_id FROM payments"))).scalar_one()
    assert stored == INTENT_ID


async def test_webhook_signatures(
    client: httpx.AsyncClient, stripe: respx.MockRouter, db_engine: AsyncEngine
) -> None:
    pid = await _stripe_payment(client, stripe)
    hook = "/api/providers/stripe/webhook"

    def completed() -> bytes:
        obj = session_object(
            SESSION_ID, pid, status="complete", payment_status="paid", payment_intent=INTENT_ID
        )
        return _event("checkout.session.completed", obj)

    payload = completed()
    unsigned = await client.post(hook, content=payload, headers={"Content-Type": "application/json"})
    assert unsigned.status_code == 400  # the header is required
    bad = [
        _signed(payload, "whsec_someone_else"),
        _signed(payload, WEBHOOK_SECRET_NEW, at=int(time.time()) - 301),
        # a minute past the tolerance: these are sent one after another, seconds later under load
        _signed(payload, WEBHOOK_SECRET_NEW, at=int(time.time()) + 360),
        {"Stripe-Signature": "t=abc,v1=00", "Content-Type": "application/json"},
        {"Stripe-Signature": f"t={int(time.time())}", "Content-Type": "application/json"},
    ]
    for headers in bad:  # a signature that does not verify: the request is not authenticated
        response = await client.post(hook, content=payload, headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["content-type"].startswith("application/problem+json")
    tampered = payload.replace(b'"paid"', b'"unpaid"')
    assert (
        await client.post(hook, content=tampered, headers=_signed(payload, WEBHOOK_SECRET_NEW))
    ).status_code == 401
    assert await count_rows(db_engine, "provider_events") == 0
    assert await event_types(db_engine, pid) == ["payment.created"]

    # within tolerance, signed with the previous secret only (rotation), among several v1 values
    at = int(time.time()) - 250
    headers = _signed(payload, WEBHOOK_SECRET_OLD, at=at)
    headers["Stripe-Signature"] = f"t={at},v1={'0' * 64},{headers['Stripe-Signature'].split(',', 1)[1]}"
    accepted = await client.post(hook, content=payload, headers=headers)
    assert accepted.status_code == 200
    assert await event_types(db_engine, pid) == ["payment.created", "payment.succeeded"]


async def test_webhook_unknown_types_and_sessions_are_acknowledged(
    client: httpx.AsyncClient, stripe: respx.MockRouter, db_engine: AsyncEngine
) -> None:
    hook = "/api/providers/stripe/webhook"
    unknown = _event("customer.created", {"id": "cus_123", "object": "customer"})
    assert (
        await client.post(hook, content=unknown, headers=_signed(unknown, WEBHOOK_SECRET_NEW))
    ).status_code == 200
    stranger = _event(
        "checkout.session.completed",
        session_object("cs_test_not_ours", str(uuid.uuid4()), status="complete", payment_status="paid"),
    )
    response = await client.post(hook, content=stranger, headers=_signed(stranger, WEBHOOK_SECRET_NEW))
    assert response.status_code == 200
    garbage = b'{"no": "event"}'
    assert (
        await client.post(hook, content=garbage, headers=_signed(garbage, WEBHOOK_SECRET_NEW))
    ).status_code == 400
    assert await count_rows(db_engine, "provider_events") == 2


async def test_webhook_expired_and_async_failure(
    client: httpx.AsyncClient, stripe: respx.MockRouter, db_engine: AsyncEngine
) -> None:
    hook = "/api/providers/stripe/webhook"
    pid = await _stripe_payment(client, stripe)
    expired = _event("checkout.session.expired", session_object(SESSION_ID, pid, status="expired"))
    await client.post(hook, content=expired, headers=_signed(expired, WEBHOOK_SECRET_NEW))
    assert (await client.get(f"/api/payments/{pid}")).json()["status"] == "canceled"

    async with (
        db_engine.begin() as conn
    ):  # a second payment may reuse the session id only once the first is gone
        await conn.execute(text("DELETE FROM payments"))
    pid = await _stripe_payment(client, stripe)
    processing = _event(
        "checkout.session.completed",
        session_object(SESSION_ID, pid, status="complete", payment_status="unpaid", payment_intent=INTENT_ID),
    )
    await client.post(hook, content=processing, headers=_signed(processing, WEBHOOK_SECRET_NEW))
    assert (await client.get(f"/api/payments/{pid}")).json()["status"] == "processing"
    failed = _event(
        "checkout.session.async_payment_failed",
        session_object(SESSION_ID, pid, status="complete", payment_status="unpaid", payment_intent=INTENT_ID),
    )
    await client.post(hook, content=failed, headers=_signed(failed, WEBHOOK_SECRET_NEW))
    assert (await client.get(f"/api/payments/{pid}")).json()["status"] == "failed"
    assert await event_types(db_engine, pid) == ["payment.created", "payment.processing", "payment.failed"]


async def test_concurrent_webhook_verify_cancel_make_one_transition(
    client: httpx.AsyncClient, stripe: respx.MockRouter, db_engine: AsyncEngine
) -> None:
    pid = await _stripe_payment(client, stripe)
    complete = session_object(
        SESSION_ID, pid, status="complete", payment_status="paid", payment_intent=INTENT_ID
    )
    stripe.get(f"{STRIPE}/v1/checkout/sessions/{SESSION_ID}").mock(
        return_value=httpx.Response(200, json=complete)
    )
    stripe.post(f"{STRIPE}/v1/checkout/sessions/{SESSION_ID}/expire").mock(
        return_value=httpx.Response(400, json=stripe_error("not open", "checkout_session_not_open"))
    )
    hook = "/api/providers/stripe/webhook"
    payload = _event("checkout.session.completed", complete)
    calls = [
        client.post(hook, content=payload, headers=_signed(payload, WEBHOOK_SECRET_NEW)) for _ in range(3)
    ]
    calls += [client.post(f"/api/payments/{pid}/verify") for _ in range(6)]
    calls += [client.post(f"/api/payments/{pid}/cancel") for _ in range(4)]
    responses = await asyncio.gather(*calls)
    assert {r.status_code for r in responses} <= {200, 409}
    assert await event_types(db_engine, pid) == ["payment.created", "payment.succeeded"]


async def test_slow_mock_provider_times_out_with_504(
    client: httpx.AsyncClient, db_engine: AsyncEngine, app_settings: AppSettings
) -> None:
    app_settings(provider_timeout_seconds=0.2, mock_slow_seconds=5.0)
    response = await post_payment(client, "slow", metadata={"mock_behavior": "slow"})
    assert response.status_code == 504
    assert response.headers["content-type"].startswith("application/problem+json")
    await assert_nothing_created(db_engine)
