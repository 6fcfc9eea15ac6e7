"""The Stripe provider and webhook: payment_ms in-process over a real socket, api.stripe.com mocked by
respx with request and response shapes from Stripe's API reference."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any
from urllib.parse import parse_qs

import httpx
import msgspec
import pytest
import respx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from payment_ms.payments.idempotency import fingerprint
from payment_ms.settings import PaymentSettings
from payment_ms.stripe_webhooks.signature import sign
from shared.contracts import PaymentCreate
from tests.payment_ms.conftest import count_rows, event_types, payment_body
from tests.payment_ms.inprocess import (
    STRIPE,
    STRIPE_KEY,
    WEBHOOK_SECRET_NEW,
    WEBHOOK_SECRET_OLD,
    client,
    inprocess_settings,
    inprocess_url,
    payment_intent_object,
    session_object,
    stripe,
    stripe_error,
)

__all__ = ["client", "inprocess_settings", "inprocess_url", "stripe"]
STRIPE_ATTEMPTS = PaymentSettings.model_fields["stripe_max_attempts"].default  # fixtures used by name below

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


async def test_create_sends_a_checkout_session_request(
    client: httpx.AsyncClient, stripe: respx.MockRouter, db_engine: AsyncEngine
) -> None:
    route = _mock_create(stripe)
    body = payment_body(provider="stripe", amount=1999)
    response = await _create(client, body=body)
    assert response.status_code == 201, response.text
    payment = response.json()
    assert payment["checkout_url"] == f"https://checkout.stripe.com/c/pay/{SESSION_ID}"
    request = route.calls.last.request
    assert request.headers["authorization"] == f"Bearer {STRIPE_KEY}"
    assert request.headers["idempotency-key"] == f"paygate-checkout-{payment['id']}"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    form = _form(request)
    assert form["mode"] == "payment"
    assert form["success_url"] == "http://127.0.0.1:5173/return"
    assert form["cancel_url"] == "http://127.0.0.1:5173/cancel"
    assert form["line_items[0][price_data][currency]"] == "eur"
    assert form["line_items[0][price_data][unit_amount]"] == "1999"
    assert form["line_items[0][price_data][product_data][name]"] == "Concert ticket"
    assert form["line_items[0][quantity]"] == "1"
    assert form["metadata[payment_id]"] == payment["id"]
    assert "payment_intent_data[capture_method]" not in form
    # replay: same bytes, no second Stripe call
    again = await _create(client, body=body)
    assert again.content == response.content and route.call_count == 1
    assert await event_types(db_engine, payment["id"]) == ["payment.created"]


async def test_verify_refund_lifecycle(
    client: httpx.AsyncClient, stripe: respx.MockRouter, db_engine: AsyncEngine
) -> None:
    _mock_create(stripe)
    payment = (await _create(client)).json()
    pid = payment["id"]
    retrieve = _mock_retrieve(stripe, pid)
    assert (await client.post(f"/api/payments/{pid}/verify")).json()["status"] == "pending"
    assert retrieve.calls.last.request.url.params["expand[]"] == "payment_intent"
    _mock_retrieve(
        stripe,
        pid,
        status="complete",
        payment_status="paid",
        payment_intent=payment_intent_object(INTENT_ID, status="succeeded"),
    )
    paid = (await client.post(f"/api/payments/{pid}/verify")).json()
    assert paid["status"] == "succeeded" and paid["captured_amount"] == 2500

    refunds = stripe.post(f"{STRIPE}/v1/refunds").mock(
        side_effect=lambda request: httpx.Response(
            200,
            json={
                "id": f"re_{uuid.uuid4().hex[:16]}",
                "object": "refund",
                "amount": int(_form(request)["amount"]),
                "currency": "eur",
                "payment_intent": INTENT_ID,
                "status": "succeeded",
            },
        )
    )
    partial = await client.post(f"/api/payments/{pid}/refunds", json={"amount": 500})
    assert partial.json()["status"] == "partially_refunded"
    form = _form(refunds.calls.last.request)
    assert form["payment_intent"] == INTENT_ID and form["amount"] == "500"
    assert refunds.calls.last.request.headers["idempotency-key"]
    full = await client.post(f"/api/payments/{pid}/refunds", json={})
    assert full.json()["status"] == "refunded" and _form(refunds.calls.last.request)["amount"] == "2000"
    async with db_engine.connect() as conn:
        ids = (await conn.execute(text("SELECT provider_refund_id FROM refunds"))).scalars().all()
    assert len(ids) == 2 and all(i.startswith("re_") for i in ids)
    assert await event_types(db_engine, pid) == [
        "payment.created",
        "payment.succeeded",
        "payment.refunded",
        "payment.refunded",
    ]


async def test_manual_capture_through_the_payment_intent(
    client: httpx.AsyncClient, stripe: respx.MockRouter, db_engine: AsyncEngine
) -> None:
    create = _mock_create(stripe)
    pid = (await _create(client, capture_method="manual")).json()["id"]
    assert _form(create.calls.last.request)["payment_intent_data[capture_method]"] == "manual"
    _mock_retrieve(
        stripe,
        pid,
        status="complete",
        payment_status="unpaid",
        payment_intent=payment_intent_object(INTENT_ID, status="requires_capture"),
    )
    assert (await client.post(f"/api/payments/{pid}/verify")).json()["status"] == "authorized"
    capture = stripe.post(f"{STRIPE}/v1/payment_intents/{INTENT_ID}/capture").mock(
        return_value=httpx.Response(200, json=payment_intent_object(INTENT_ID, status="succeeded"))
    )
    captured = (await client.post(f"/api/payments/{pid}/capture")).json()
    assert captured["status"] == "succeeded" and captured["captured_amount"] == 2500
    key = capture.calls.last.request.headers["idempotency-key"]
    async with db_engine.connect() as conn:
        stored = (
            await conn.execute(
                text(
                    "SELECT provider_key FROM payment_commands WHERE payment_id = :p AND action = 'capture'"
                ),
                {"p": pid},
            )
        ).scalar_one()
    assert key == stored and key.startswith("paygate-capture-")
    assert await event_types(db_engine, pid) == [
        "payment.created",
        "payment.authorized",
        "payment.captured",
        "payment.succeeded",
    ]


async def test_cancel_expires_the_session_and_a_refusal_is_409(
    client: httpx.AsyncClient, stripe: respx.MockRouter, db_engine: AsyncEngine
) -> None:
    _mock_create(stripe)
    pid = (await _create(client, key="a")).json()["id"]
    refuse = stripe.post(f"{STRIPE}/v1/checkout/sessions/{SESSION_ID}/expire").mock(
        return_value=httpx.Response(
            400,
            json=stripe_error(
                'Only Checkout Sessions with a status in ["open"] can be expired.',
                "checkout_session_not_open",
            ),
        )
    )
    # refused, and the session Stripe reports is still open: nothing to settle, the payment stays
    retrieve = _mock_retrieve(stripe, pid)
    refused = await client.post(f"/api/payments/{pid}/cancel")
    assert refused.status_code == 409
    assert refused.json()["provider_code"] == "checkout_session_not_open"
    assert refuse.call_count == 1  # a 4xx is never retried
    assert retrieve.call_count == 1  # the refusal made us look
    assert (await client.get(f"/api/payments/{pid}")).json()["status"] == "pending"

    refuse.mock(
        return_value=httpx.Response(
            200, json=session_object(SESSION_ID, pid, status="expired", payment_status="unpaid")
        )
    )
    canceled = await client.post(f"/api/payments/{pid}/cancel")
    assert canceled.status_code == 200 and canceled.json()["status"] == "canceled"
    assert await event_types(db_engine, pid) == ["payment.created", "payment.canceled"]


async def test_create_retries_5xx_and_timeouts_with_the_same_key(
    client: httpx.AsyncClient, stripe: respx.MockRouter
) -> None:
    attempts: list[httpx.Request] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        attempts.append(request)
        if len(attempts) == 1:
            raise httpx.ReadTimeout("slow", request=request)
        if len(attempts) == 2:
            return httpx.Response(500, json=stripe_error("oops", "api_error", kind="api_error"))
        return httpx.Response(200, json=session_object(SESSION_ID, _form(request)["client_reference_id"]))

    stripe.post(f"{STRIPE}/v1/checkout/sessions").mock(side_effect=flaky)
    response = await _create(client)
    assert response.status_code == 201
    assert len(attempts) == 3
    assert len({r.headers["idempotency-key"] for r in attempts}) == 1


async def test_stripe_down_is_503_and_writes_nothing(
    client: httpx.AsyncClient, stripe: respx.MockRouter, db_engine: AsyncEngine
) -> None:
    route = stripe.post(f"{STRIPE}/v1/checkout/sessions").mock(
        return_value=httpx.Response(503, json=stripe_error("down", "api_error", kind="api_error"))
    )
    body = payment_body(provider="stripe")
    response = await _create(client, body=body)
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    assert STRIPE_KEY not in response.text
    assert route.call_count == STRIPE_ATTEMPTS
    for table in ("payments", "payment_events", "idempotency_keys"):
        assert await count_rows(db_engine, table) == 0
    # the key was released: the client may retry once Stripe is back
    _mock_create(stripe)
    assert (await _create(client, body=body)).status_code == 201


async def test_duplicate_while_in_flight_is_409_then_replays(
    client: httpx.AsyncClient, stripe: respx.MockRouter, db_engine: AsyncEngine
) -> None:
    entered, release = asyncio.Event(), asyncio.Event()

    async def slow(request: httpx.Request) -> httpx.Response:
        entered.set()
        await release.wait()
        return httpx.Response(200, json=session_object(SESSION_ID, _form(request)["client_reference_id"]))

    route = stripe.post(f"{STRIPE}/v1/checkout/sessions").mock(side_effect=slow)
    body = payment_body(provider="stripe")
    first = asyncio.create_task(_create(client, key="dup", body=body))
    await asyncio.wait_for(entered.wait(), 10)
    duplicates = await asyncio.gather(*(_create(client, key="dup", body=body) for _ in range(10)))
    assert {d.status_code for d in duplicates} == {409}
    assert duplicates[0].headers["retry-after"] == "1"
    release.set()
    done = await first
    assert done.status_code == 201
    retried = await _create(client, key="dup", body=body)
    assert retried.content == done.content
    assert route.call_count == 1
    assert await count_rows(db_engine, "payments") == 1


async def test_a_dead_in_flight_request_is_taken_over_after_its_lease(
    client: httpx.AsyncClient, stripe: respx.MockRouter, db_engine: AsyncEngine
) -> None:
    body = payment_body(provider="stripe")
    payment_id = uuid.uuid4()
    data = msgspec.json.decode(json.dumps(body), type=PaymentCreate)
    async with db_engine.begin() as conn:  # what a crash between Stripe's answer and our commit leaves
        await conn.execute(
            text(
                "INSERT INTO payments (id, reservation_id, user_id, amount, currency, provider) "
                "VALUES (:id, :r, :u, 2500, 'EUR', 'stripe')"
            ),
            {"id": payment_id, "r": body["reservation_id"], "u": body["user_id"]},
        )
        await conn.execute(
            text(
                "INSERT INTO idempotency_keys"
                " (scope, key, request_fingerprint, state, payment_id, locked_until)"
                " VALUES (:s, 'crashed', :f, 'in_flight', :p, now() - interval '1 second')"
            ),
            {
                "s": f"user:{body['user_id']}",
                "f": fingerprint("POST", "/api/payments", data),
                "p": payment_id,
            },
        )
    route = _mock_create(stripe)
    response = await client.post("/api/payments", json=body, headers={"Idempotency-Key": "crashed"})
    assert response.status_code == 201
    assert response.json()["id"] == str(payment_id)
    assert route.calls.last.request.headers["idempotency-key"] == f"paygate-checkout-{payment_id}"
    assert await count_rows(db_engine, "payments") == 1


# ---------------------------------------------------------------------------------------- webhooks


def _event(event_type: str, obj: dict[str, Any], event_id: str | None = None) -> bytes:
    return json.dumps(
        {
            "id": event_id or f"evt_{uuid.uuid4().hex[:24]}",
            "object": "event",
            "api_version": "2025-07-30.basil",
            "created": int(time.time()),
            "data": {"object": obj},
            "livemode": False,
            "pending_webhooks": 1,
            "type": event_type,
        }
    ).encode()


def _signed(payload: bytes, *secrets: str, at: int | None = None) -> dict[str, str]:
    t = int(time.time()) if at is None else at
    parts = [f"t={t}", *(f"v1={sign(payload, s, t)}" for s in secrets)]
    return {"Stripe-Signature": ",".join(parts), "Content-Type": "application/json"}


async def _stripe_payment(client: httpx.AsyncClient, stripe: respx.MockRouter, **overrides: Any) -> str:
    _mock_create(stripe)
    response = await _create(client, key=uuid.uuid4().hex, **overrides)
    payment_id: str = response.json()["id"]
    return payment_id


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
        _signed(payload, WEBHOOK_SECRET_NEW, at=int(time.time()) + 301),
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
    client: httpx.AsyncClient,
    db_engine: AsyncEngine,
    monkeypatch: pytest.MonkeyPatch,
    inprocess_settings: PaymentSettings,
) -> None:
    monkeypatch.setattr(inprocess_settings, "provider_timeout_seconds", 0.2)  # the app's own settings
    monkeypatch.setattr(inprocess_settings, "mock_slow_seconds", 5.0)
    response = await client.post(
        "/api/payments",
        json=payment_body(metadata={"mock_behavior": "slow"}),
        headers={"Idempotency-Key": "slow"},
    )
    assert response.status_code == 504
    assert response.headers["content-type"].startswith("application/problem+json")
    for table in ("payments", "payment_events", "idempotency_keys"):
        assert await count_rows(db_engine, table) == 0


# ------------------------------------------------------------------- commands: cancel, refund, retries


async def _authorized(client: httpx.AsyncClient, stripe: respx.MockRouter) -> str:
    pid = await _stripe_payment(client, stripe, capture_method="manual")
    _mock_retrieve(
        stripe,
        pid,
        status="complete",
        payment_status="unpaid",
        payment_intent=payment_intent_object(INTENT_ID, status="requires_capture"),
    )
    verified = await client.post(f"/api/payments/{pid}/verify")
    assert verified.json()["status"] == "authorized", verified.text
    return pid


async def _paid(client: httpx.AsyncClient, stripe: respx.MockRouter) -> str:
    pid = await _stripe_payment(client, stripe)
    _mock_retrieve(
        stripe,
        pid,
        status="complete",
        payment_status="paid",
        payment_intent=payment_intent_object(INTENT_ID, status="succeeded"),
    )
    verified = await client.post(f"/api/payments/{pid}/verify")
    assert verified.json()["status"] == "succeeded", verified.text
    return pid


def _refund_object(request: httpx.Request, status: str = "succeeded") -> dict[str, Any]:
    """A Refund as Stripe's API reference shows it."""
    return {
        "id": f"re_{uuid.uuid4().hex[:24]}",
        "object": "refund",
        "amount": int(_form(request)["amount"]),
        "balance_transaction": None,
        "charge": "ch_3MtwBwLkdIwHu7ix28a3tqPa",
        "created": 1692942318,
        "currency": "eur",
        "metadata": {"payment_id": _form(request)["metadata[payment_id]"]},
        "payment_intent": INTENT_ID,
        "reason": None,
        "status": status,
        "failure_reason": "lost_or_stolen_card" if status == "failed" else None,
    }


async def test_cancel_of_an_authorized_payment_cancels_the_payment_intent(
    client: httpx.AsyncClient, stripe: respx.MockRouter, db_engine: AsyncEngine
) -> None:
    pid = await _authorized(client, stripe)
    expire = stripe.post(f"{STRIPE}/v1/checkout/sessions/{SESSION_ID}/expire").mock(
        return_value=httpx.Response(500)
    )
    canceled_intent = {
        **payment_intent_object(INTENT_ID, status="canceled"),
        "cancellation_reason": None,
        "canceled_at": 1692942400,
    }
    attempts: list[httpx.Request] = []

    def cancel_intent(request: httpx.Request) -> httpx.Response:
        attempts.append(request)
        if len(attempts) == 1:  # a 5xx on a POST with an Idempotency-Key is safe to retry
            return httpx.Response(502, json=stripe_error("bad gateway", "api_error", kind="api_error"))
        return httpx.Response(200, json=canceled_intent)

    stripe.post(f"{STRIPE}/v1/payment_intents/{INTENT_ID}/cancel").mock(side_effect=cancel_intent)
    response = await client.post(f"/api/payments/{pid}/cancel")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "canceled"
    assert len(attempts) == 2
    keys = {r.headers["idempotency-key"] for r in attempts}
    assert len(keys) == 1 and keys.pop().startswith("paygate-cancel-")
    assert expire.call_count == 0  # the session is complete: the authorization is what is released
    async with db_engine.connect() as conn:
        stored = (
            await conn.execute(text("SELECT provider_status FROM payments WHERE id = :p"), {"p": pid})
        ).scalar_one()
    assert stored == "intent/canceled"
    assert await event_types(db_engine, pid) == [
        "payment.created",
        "payment.authorized",
        "payment.canceled",
    ]


async def test_refund_refusals_write_nothing_and_5xx_is_retried_with_one_key(
    client: httpx.AsyncClient, stripe: respx.MockRouter, db_engine: AsyncEngine
) -> None:
    pid = await _paid(client, stripe)
    url = f"/api/payments/{pid}/refunds"

    async def unchanged() -> None:
        payment = (await client.get(f"/api/payments/{pid}")).json()
        assert (payment["status"], payment["refunded_amount"]) == ("succeeded", 0)
        assert await count_rows(db_engine, "refunds") == 0
        assert await event_types(db_engine, pid) == ["payment.created", "payment.succeeded"]

    # a refusal (4xx) is never retried: 409 with Stripe's code
    refunds = stripe.post(f"{STRIPE}/v1/refunds").mock(
        return_value=httpx.Response(
            400,
            json=stripe_error(
                "Charge ch_3MtwBwLkdIwHu7ix28a3tqPa has already been refunded.", "charge_already_refunded"
            ),
        )
    )
    refused = await client.post(url, json={"amount": 500})
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["provider_code"] == "charge_already_refunded"
    assert refunds.call_count == 1
    await unchanged()

    # a refund Stripe created but marked failed is refused too
    refunds.mock(side_effect=lambda request: httpx.Response(200, json=_refund_object(request, "failed")))
    failed = await client.post(url, json={"amount": 500})
    assert failed.status_code == 409, failed.text
    await unchanged()

    # Stripe down: every attempt carries the same key, 503, nothing written
    refunds.reset()
    refunds.mock(return_value=httpx.Response(503, json=stripe_error("down", "api_error", kind="api_error")))
    down = await client.post(url, json={"amount": 500}, headers={"Idempotency-Key": "refund-500"})
    assert down.status_code == 503, down.text
    assert down.headers["content-type"].startswith("application/problem+json")
    assert STRIPE_KEY not in down.text
    assert refunds.call_count == STRIPE_ATTEMPTS
    down_keys = {call.request.headers["idempotency-key"] for call in refunds.calls}
    assert len(down_keys) == 1
    await unchanged()

    # 5xx then success: the client retries that command (its Idempotency-Key): the same key at Stripe
    # (the retry of the refund that may have happened)
    attempts: list[httpx.Request] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        attempts.append(request)
        if len(attempts) < 3:
            return httpx.Response(500, json=stripe_error("oops", "api_error", kind="api_error"))
        return httpx.Response(200, json=_refund_object(request))

    refunds.mock(side_effect=flaky)
    refunded = await client.post(url, json={"amount": 500}, headers={"Idempotency-Key": "refund-500"})
    assert refunded.status_code == 201, refunded.text
    assert refunded.json()["status"] == "partially_refunded"
    assert len(attempts) == 3
    assert {r.headers["idempotency-key"] for r in attempts} == down_keys
    assert await count_rows(db_engine, "refunds") == 1


async def test_verify_retries_a_retrieve_on_5xx_but_not_on_4xx(
    client: httpx.AsyncClient, stripe: respx.MockRouter, db_engine: AsyncEngine
) -> None:
    pid = await _stripe_payment(client, stripe)
    retrieve = stripe.get(f"{STRIPE}/v1/checkout/sessions/{SESSION_ID}").mock(
        return_value=httpx.Response(502, json=stripe_error("bad gateway", "api_error", kind="api_error"))
    )
    down = await client.post(f"/api/payments/{pid}/verify")
    assert down.status_code == 503, down.text
    assert down.headers["content-type"].startswith("application/problem+json")
    assert retrieve.call_count == STRIPE_ATTEMPTS

    retrieve.reset()
    retrieve.mock(
        return_value=httpx.Response(
            404, json=stripe_error(f"No such checkout.session: '{SESSION_ID}'", "resource_missing")
        )
    )
    missing = await client.post(f"/api/payments/{pid}/verify")
    assert missing.status_code == 409, missing.text
    assert retrieve.call_count == 1  # a 4xx is an answer, not a failure to answer
    assert (await client.get(f"/api/payments/{pid}")).json()["status"] == "pending"
    assert await event_types(db_engine, pid) == ["payment.created"]

    paid = session_object(
        SESSION_ID,
        pid,
        status="complete",
        payment_status="paid",
        payment_intent=payment_intent_object(INTENT_ID, status="succeeded"),
    )
    retrieve.reset()
    retrieve.mock(
        side_effect=[
            httpx.Response(500, json=stripe_error("oops", "api_error", kind="api_error")),
            httpx.Response(503, json=stripe_error("down", "api_error", kind="api_error")),
            httpx.Response(200, json=paid),
        ]
    )
    verified = await client.post(f"/api/payments/{pid}/verify")
    assert verified.status_code == 200, verified.text
    assert verified.json()["status"] == "succeeded"
    assert retrieve.call_count == 3
    assert all(call.request.method == "GET" for call in retrieve.calls)
    assert await event_types(db_engine, pid) == ["payment.created", "payment.succeeded"]


@pytest.mark.parametrize("command", ["cancel", "refund"])
async def test_a_command_key_in_flight_is_409_then_replays(
    client: httpx.AsyncClient, stripe: respx.MockRouter, db_engine: AsyncEngine, command: str
) -> None:
    """The same Idempotency-Key on a cancel or refund while the first is still at Stripe: 409."""
    if command == "cancel":
        pid = await _stripe_payment(client, stripe)
        route = stripe.post(f"{STRIPE}/v1/checkout/sessions/{SESSION_ID}/expire")
        path, body = f"/api/payments/{pid}/cancel", None

        def answer(request: httpx.Request) -> httpx.Response:
            return httpx.Response(
                200, json=session_object(SESSION_ID, pid, status="expired", payment_status="unpaid")
            )
    else:
        pid = await _paid(client, stripe)
        route = stripe.post(f"{STRIPE}/v1/refunds")
        path, body = f"/api/payments/{pid}/refunds", {"amount": 700}

        def answer(request: httpx.Request) -> httpx.Response:
            return httpx.Response(200, json=_refund_object(request))

    entered, release = asyncio.Event(), asyncio.Event()

    async def held(request: httpx.Request) -> httpx.Response:
        entered.set()
        await release.wait()
        return answer(request)

    route.mock(side_effect=held)
    events_before = await event_types(db_engine, pid)
    headers = {"Idempotency-Key": f"{command}-1"}
    first = asyncio.create_task(client.post(path, json=body, headers=headers))
    async with asyncio.timeout(10):
        await entered.wait()
    duplicate = await client.post(path, json=body, headers=headers)
    assert duplicate.status_code == 409, duplicate.text
    assert duplicate.headers["content-type"].startswith("application/problem+json")
    release.set()
    async with asyncio.timeout(10):
        done = await first
    assert done.status_code in (200, 201), done.text
    again = await client.post(path, json=body, headers=headers)
    assert (again.status_code, again.content) == (done.status_code, done.content)
    assert route.call_count == 1
    assert len(await event_types(db_engine, pid)) == len(events_before) + 1


# ---------------------------------------------------------------- currencies Stripe counts differently


@pytest.mark.parametrize(
    ("currency", "amount", "sent"),
    [
        ("EUR", 1999, 1999),
        ("JPY", 500, 500),  # zero-decimal in ISO and at Stripe
        ("UGX", 5000, 5000),  # zero-decimal in ISO 4217 and at Stripe
        ("ISK", 500, 50000),  # whole krónur in ISO, two decimals in Stripe's API: x100
        ("HUF", 12345, 12345),  # special at Stripe for payouts only; charges take two decimals
        ("TWD", 10050, 10050),
        ("MGA", 50000, 500),  # two decimals in ISO 4217, zero-decimal at Stripe
        ("KWD", 5120, 5120),  # three decimals, last digit 0
    ],
)
async def test_amounts_are_sent_in_stripes_units(
    client: httpx.AsyncClient, stripe: respx.MockRouter, currency: str, amount: int, sent: int
) -> None:
    route = _mock_create(stripe, currency=currency.lower(), amount=sent)
    response = await _create(client, key=uuid.uuid4().hex, currency=currency, amount=amount)
    assert response.status_code == 201, response.text
    assert response.json()["amount"] == amount  # ours stays in ISO minor units
    form = _form(route.calls.last.request)
    assert form["line_items[0][price_data][currency]"] == currency.lower()
    assert form["line_items[0][price_data][unit_amount]"] == str(sent)


@pytest.mark.parametrize(
    ("currency", "amount", "field"),
    [
        ("MGA", 12345, "amount"),  # not whole ariary
        ("KWD", 5124, "amount"),  # Stripe wants the last of three decimals to be 0
        ("IQD", 1000, "currency"),  # three ISO decimals, no Stripe rule: refused, not guessed
        ("CLF", 10000, "currency"),
        ("UYI", 100, "currency"),
    ],
)
async def test_amounts_stripe_cannot_take_exactly_are_422_and_write_nothing(
    client: httpx.AsyncClient,
    stripe: respx.MockRouter,
    db_engine: AsyncEngine,
    currency: str,
    amount: int,
    field: str,
) -> None:
    route = _mock_create(stripe)
    response = await _create(client, key=uuid.uuid4().hex, currency=currency, amount=amount)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["field"] == field
    assert route.call_count == 0
    for table in ("payments", "payment_events", "idempotency_keys"):
        assert await count_rows(db_engine, table) == 0


@pytest.mark.parametrize(("currency", "refund", "sent"), [("ISK", 100, 10000), ("MGA", 100, 1)])
async def test_refunds_are_converted_too_and_inexact_ones_refused(
    client: httpx.AsyncClient,
    stripe: respx.MockRouter,
    db_engine: AsyncEngine,
    currency: str,
    refund: int,
    sent: int,
) -> None:
    _mock_create(stripe)
    pid = (await _create(client, key=uuid.uuid4().hex, currency=currency, amount=1000)).json()["id"]
    _mock_retrieve(
        stripe,
        pid,
        status="complete",
        payment_status="paid",
        payment_intent=payment_intent_object(INTENT_ID, status="succeeded"),
    )
    assert (await client.post(f"/api/payments/{pid}/verify")).json()["status"] == "succeeded"
    refunds = stripe.post(f"{STRIPE}/v1/refunds").mock(
        side_effect=lambda request: httpx.Response(200, json=_refund_object(request))
    )
    if currency == "MGA":
        inexact = await client.post(f"/api/payments/{pid}/refunds", json={"amount": 150})
        assert inexact.status_code == 422, inexact.text
        assert inexact.json()["field"] == "amount"
        assert refunds.call_count == 0 and await count_rows(db_engine, "refunds") == 0
    done = await client.post(f"/api/payments/{pid}/refunds", json={"amount": refund})
    assert done.status_code == 201, done.text
    assert done.json()["refunded_amount"] == refund
    assert _form(refunds.calls.last.request)["amount"] == str(sent)


async def test_a_session_stripe_already_gave_another_payment_is_502_and_writes_nothing(
    client: httpx.AsyncClient, stripe: respx.MockRouter, db_engine: AsyncEngine
) -> None:
    _mock_create(stripe)  # answers the same session id to every create
    first = await _create(client, key="first")
    assert first.status_code == 201, first.text
    second = await _create(client, key="second")
    assert second.status_code == 502 and second.headers["content-type"] == "application/problem+json"
    assert second.json()["type"].endswith("/provider-inconsistent")
    async with db_engine.connect() as conn:
        payments = (await conn.execute(text("SELECT count(*) FROM payments"))).scalar_one()
        keys = (await conn.execute(text("SELECT key FROM idempotency_keys"))).scalars().all()
    assert (payments, keys) == (1, ["first"])
