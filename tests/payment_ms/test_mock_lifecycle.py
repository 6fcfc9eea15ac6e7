"""The whole mock lifecycle over HTTP: create → hosted page → verify, with events in the outbox."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import asyncpg_dsn
from tests.fixtures.checkout_page import CSRF_FIELD, page_path
from tests.payment_ms.conftest import (
    assert_nothing_created,
    choose_on_mock_page,
    count_rows,
    create_payment,
    event_types,
    only_event,
    post_payment,
    verified_status,
)


async def test_create_returns_pending_payment_with_checkout_url(
    api: httpx.AsyncClient, db_engine: AsyncEngine
) -> None:
    payment = await create_payment(api, amount=1234, currency="JPY")
    assert payment["status"] == "pending"
    assert payment["amount"] == 1234 and payment["currency"] == "JPY"
    assert "/checkout/mock/" in payment["checkout_url"] and payment["id"] not in payment["checkout_url"]
    fetched = await api.get(f"/api/payments/{payment['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == payment
    assert await event_types(db_engine, payment["id"]) == ["payment.created"]
    assert (await only_event(db_engine, payment["id"]))["data"] == payment


async def test_approve_settles_by_the_mock_event_and_verify_agrees(
    api: httpx.AsyncClient, db_engine: AsyncEngine
) -> None:
    payment = await create_payment(api)
    chosen = await choose_on_mock_page(api, payment, "approve")
    assert chosen.status_code == 303
    assert chosen.headers["location"] == "http://127.0.0.1:5173/return"
    # the mock's own provider event (no delay configured) settled it before the payer was redirected
    assert (await api.get(f"/api/payments/{payment['id']}")).json()["status"] == "succeeded"
    async with db_engine.connect() as conn:
        received = (
            await conn.execute(text("SELECT provider, type FROM provider_events WHERE provider = 'mock'"))
        ).all()
    assert [tuple(r) for r in received] == [("mock", "checkout.approved")]
    verified = await api.post(f"/api/payments/{payment['id']}/verify")
    assert verified.status_code == 200
    assert verified.json()["status"] == "succeeded"
    assert verified.json()["captured_amount"] == payment["amount"]
    again = await api.post(f"/api/payments/{payment['id']}/verify")
    assert again.json() == verified.json()
    assert await event_types(db_engine, payment["id"]) == ["payment.created", "payment.succeeded"]
    # the page is closed now
    closed = await api.get(page_path(payment["checkout_url"]))
    assert closed.status_code == 409 and "no longer open" in closed.text


async def test_decline_fails_and_abandon_cancels(api: httpx.AsyncClient, db_engine: AsyncEngine) -> None:
    declined = await create_payment(api)
    assert (await choose_on_mock_page(api, declined, "decline")).status_code == 303
    result = (await api.post(f"/api/payments/{declined['id']}/verify")).json()
    assert result["status"] == "failed" and "declined" in result["failure_reason"]

    abandoned = await create_payment(api)
    response = await choose_on_mock_page(api, abandoned, "abandon")
    assert response.headers["location"] == "http://127.0.0.1:5173/cancel"
    result = (await api.post(f"/api/payments/{abandoned['id']}/verify")).json()
    assert result["status"] == "canceled"
    assert await event_types(db_engine, declined["id"]) == ["payment.created", "payment.failed"]
    assert await event_types(db_engine, abandoned["id"]) == ["payment.created", "payment.canceled"]


async def test_mock_behavior_decline_refuses_the_approval(api: httpx.AsyncClient) -> None:
    payment = await create_payment(api, metadata={"mock_behavior": "decline"})
    await choose_on_mock_page(api, payment, "approve")
    assert await verified_status(api, payment) == "failed"


async def test_mock_provider_error_is_503_and_writes_nothing(
    api: httpx.AsyncClient, db_engine: AsyncEngine
) -> None:
    response = await post_payment(api, "k1", metadata={"mock_behavior": "provider_error"})
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    await assert_nothing_created(db_engine)


async def test_page_without_return_url_shows_the_result(api: httpx.AsyncClient) -> None:
    payment = await create_payment(api, return_url=None, cancel_url=None)
    page = page_path(payment["checkout_url"])
    csrf = CSRF_FIELD.search((await api.get(page)).text)
    assert csrf is not None
    response = await choose_on_mock_page(api, payment, "approve")
    assert response.status_code == 200
    assert 'id="result">approved<' in response.text
    second = await api.post(page, data={"choice": "decline", "csrf_token": csrf.group(1)})
    assert second.status_code == 409 and second.headers["content-type"].startswith("text/html")


async def test_cancel_pending_then_illegal_moves_are_409(
    api: httpx.AsyncClient, db_engine: AsyncEngine
) -> None:
    payment = await create_payment(api)
    canceled = await api.post(f"/api/payments/{payment['id']}/cancel")
    assert canceled.status_code == 200 and canceled.json()["status"] == "canceled"
    page = await api.get(page_path(payment["checkout_url"]))
    assert page.status_code == 409
    for action, body in (("cancel", None), ("capture", None), ("refunds", {"amount": 1})):
        response = await api.post(f"/api/payments/{payment['id']}/{action}", json=body)
        assert response.status_code == 409, (action, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    assert await verified_status(api, payment) == "canceled"
    assert await event_types(db_engine, payment["id"]) == ["payment.created", "payment.canceled"]


async def _approved_but_its_event_lost(api: httpx.AsyncClient) -> dict[str, Any]:
    """A mock payment the payer approved on the hosted page, whose provider event the mock dropped."""
    payment = await create_payment(api, metadata={"mock_behavior": "drop_event"})
    await choose_on_mock_page(api, payment, "approve")
    return payment


async def test_approve_with_a_dropped_event_waits_for_verify(
    api: httpx.AsyncClient, db_engine: AsyncEngine
) -> None:
    payment = await _approved_but_its_event_lost(api)
    assert (await api.get(f"/api/payments/{payment['id']}")).json()["status"] == "pending"
    assert await count_rows(db_engine, "provider_events") == 0
    assert await verified_status(api, payment) == "succeeded"
    assert await event_types(db_engine, payment["id"]) == ["payment.created", "payment.succeeded"]


async def test_cancel_after_the_payer_approved_settles_it_and_is_refused(
    api: httpx.AsyncClient, db_engine: AsyncEngine
) -> None:
    """The payer paid, the mock's event was lost: the refused cancel asks the provider and settles."""
    payment = await _approved_but_its_event_lost(api)
    response = await api.post(f"/api/payments/{payment['id']}/cancel")
    assert response.status_code == 409
    assert response.json()["payment_status"] == "succeeded"
    assert (await api.get(f"/api/payments/{payment['id']}")).json()["status"] == "succeeded"
    assert await event_types(db_engine, payment["id"]) == ["payment.created", "payment.succeeded"]


async def _concurrent_verify_and_cancel(api: httpx.AsyncClient, payment_id: str) -> list[httpx.Response]:
    calls = [api.post(f"/api/payments/{payment_id}/{'verify' if i % 2 else 'cancel'}") for i in range(20)]
    return list(await asyncio.gather(*calls))


async def test_concurrent_verify_and_cancel_make_one_transition(
    api: httpx.AsyncClient, db_engine: AsyncEngine
) -> None:
    open_payment = await create_payment(api)
    responses = await _concurrent_verify_and_cancel(api, open_payment["id"])
    assert {r.status_code for r in responses} <= {200, 409}
    assert sum(1 for r in responses if r.status_code == 200 and r.json()["status"] == "canceled") >= 1
    assert await event_types(db_engine, open_payment["id"]) == ["payment.created", "payment.canceled"]

    approved = await create_payment(api)
    await choose_on_mock_page(api, approved, "approve")
    responses = await _concurrent_verify_and_cancel(api, approved["id"])
    assert {r.status_code for r in responses} <= {200, 409}
    assert await event_types(db_engine, approved["id"]) == ["payment.created", "payment.succeeded"]


async def test_every_event_wakes_the_dispatcher(
    api: httpx.AsyncClient, database_url: str, db_engine: AsyncEngine
) -> None:
    received: asyncio.Queue[str] = asyncio.Queue()
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await conn.add_listener("payment_events", lambda *args: received.put_nowait(args[3]))
        payment = await create_payment(api)
        await choose_on_mock_page(api, payment, "approve")
        await api.post(f"/api/payments/{payment['id']}/verify")
        got = [await asyncio.wait_for(received.get(), 5), await asyncio.wait_for(received.get(), 5)]
    finally:
        await conn.close()
    async with db_engine.connect() as db:
        ids = (
            (
                await db.execute(
                    text("SELECT id::text FROM payment_events WHERE payment_id = :p ORDER BY created_at"),
                    {"p": payment["id"]},
                )
            )
            .scalars()
            .all()
        )
    assert got == list(ids)


async def test_event_carries_the_request_id(api: httpx.AsyncClient, db_engine: AsyncEngine) -> None:
    from tests.payment_ms.conftest import payment_body

    request_id = f"req-{uuid.uuid4().hex}"
    headers = {"Idempotency-Key": "rid", "X-Request-ID": request_id}
    response = await api.post("/api/payments", json=payment_body(), headers=headers)
    payment: dict[str, Any] = response.json()
    assert response.headers["x-request-id"] == request_id
    assert (await only_event(db_engine, payment["id"]))["request_id"] == request_id


async def test_the_mock_event_delay_is_configurable(api: httpx.AsyncClient, db_engine: AsyncEngine) -> None:
    """``PAYMENT_MS_MOCK_EVENT_DELAY_SECONDS``: the event comes later; one the process does not live to
    send is lost like a webhook (verify still settles the payment)."""
    from payment_ms.checkout_page.services import MockEvents, record_choice
    from payment_ms.payments.queries import get_payment
    from payment_ms.settings import PaymentSettings
    from tests.fixtures.waiting import eventually

    soon = MockEvents(db_engine, PaymentSettings(_env_file=None, mock_event_delay_seconds=0.1))  # type: ignore[call-arg]
    payment = await create_payment(api)
    await record_choice(db_engine, soon, uuid.UUID(payment["id"]), "approve")

    async def settled() -> bool:
        return (await get_payment(db_engine, uuid.UUID(payment["id"]))).status == "succeeded"

    await eventually(settled, what="the delayed mock event settled the payment")
    await soon.aclose()

    never = MockEvents(db_engine, PaymentSettings(_env_file=None, mock_event_delay_seconds=600))  # type: ignore[call-arg]
    lost = await create_payment(api)
    await record_choice(db_engine, never, uuid.UUID(lost["id"]), "approve")
    await never.aclose()  # the process stops before the event went out
    assert (await api.get(f"/api/payments/{lost['id']}")).json()["status"] == "pending"
    assert await verified_status(api, lost) == "succeeded"
    assert await event_types(db_engine, lost["id"]) == ["payment.created", "payment.succeeded"]
