"""Stripe commands (cancel, capture, refund, verify retries) and the currencies Stripe counts
differently (payment_ms in-process, api.stripe.com mocked by respx)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.payment_ms.conftest import assert_nothing_created, count_rows, event_types
from tests.payment_ms.inprocess import (
    STRIPE,
    STRIPE_KEY,
    completed_session,
    payment_intent_object,
    session_object,
    stripe_error,
)
from tests.payment_ms.stripe_steps import (
    INTENT_ID,
    SESSION_ID,
    STRIPE_ATTEMPTS,
    _authorized,
    _create,
    _form,
    _mock_create,
    _mock_paid,
    _paid,
    _stripe_payment,
)


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

    paid = completed_session(SESSION_ID, pid, "paid", payment_intent_object(INTENT_ID, status="succeeded"))
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
    await assert_nothing_created(db_engine)


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
    _mock_paid(stripe, pid)
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
