"""The Stripe provider and webhook: payment_ms in-process over a real socket, api.stripe.com mocked by
respx with request and response shapes from Stripe's API reference."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import msgspec
import respx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from payment_ms.payments.idempotency import fingerprint
from shared.contracts import PaymentCreate
from tests.payment_ms.conftest import assert_nothing_created, count_rows, event_types, payment_body
from tests.payment_ms.inprocess import STRIPE, STRIPE_KEY, payment_intent_object, session_object, stripe_error
from tests.payment_ms.stripe_steps import (
    INTENT_ID,
    SESSION_ID,
    STRIPE_ATTEMPTS,
    _create,
    _form,
    _mock_authorized,
    _mock_create,
    _mock_paid,
    _mock_retrieve,
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
    _mock_paid(stripe, pid)
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
    _mock_authorized(stripe, pid)
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
    await assert_nothing_created(db_engine)
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
