"""Manual capture, partial and full refunds, cash confirmation and daily stats, over HTTP."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.payment_ms.conftest import (
    choose_on_mock_page,
    count_rows,
    create_payment,
    event_sources,
    event_types,
)


async def _paid(api: httpx.AsyncClient, **overrides: object) -> dict[str, object]:
    payment = await create_payment(api, **overrides)
    await choose_on_mock_page(api, payment, "approve")
    verified = await api.post(f"/api/payments/{payment['id']}/verify")
    result: dict[str, object] = verified.json()
    return result


async def test_manual_capture(api: httpx.AsyncClient, db_engine: AsyncEngine) -> None:
    authorized = await _paid(api, capture_method="manual")
    assert authorized["status"] == "authorized" and authorized["captured_amount"] == 0
    # cannot refund before capture
    assert (await api.post(f"/api/payments/{authorized['id']}/refunds", json={})).status_code == 409
    captured = await api.post(f"/api/payments/{authorized['id']}/capture")
    assert captured.status_code == 200
    assert captured.json()["status"] == "succeeded"
    assert captured.json()["captured_amount"] == authorized["amount"]
    assert (await api.post(f"/api/payments/{authorized['id']}/capture")).status_code == 409
    assert await event_types(db_engine, str(authorized["id"])) == [
        "payment.created",
        "payment.authorized",
        "payment.captured",
        "payment.succeeded",
    ]


async def test_cancel_releases_an_authorization(api: httpx.AsyncClient, db_engine: AsyncEngine) -> None:
    authorized = await _paid(api, capture_method="manual")
    released = await api.post(f"/api/payments/{authorized['id']}/cancel")
    assert released.json()["status"] == "canceled"
    assert (await api.post(f"/api/payments/{authorized['id']}/capture")).status_code == 409


async def test_capture_of_an_automatic_payment_is_409(api: httpx.AsyncClient) -> None:
    pending = await create_payment(api)
    assert (await api.post(f"/api/payments/{pending['id']}/capture")).status_code == 409
    paid = await _paid(api)
    assert (await api.post(f"/api/payments/{paid['id']}/capture")).status_code == 409


async def test_partial_then_full_refund(api: httpx.AsyncClient, db_engine: AsyncEngine) -> None:
    paid = await _paid(api, amount=1000)
    first = await api.post(f"/api/payments/{paid['id']}/refunds", json={"amount": 300, "reason": "seat"})
    assert first.status_code == 201
    assert first.json()["status"] == "partially_refunded" and first.json()["refunded_amount"] == 300
    second = await api.post(f"/api/payments/{paid['id']}/refunds", json={"amount": 200})
    assert second.json()["status"] == "partially_refunded" and second.json()["refunded_amount"] == 500
    too_much = await api.post(f"/api/payments/{paid['id']}/refunds", json={"amount": 501})
    assert too_much.status_code == 422
    assert too_much.json()["refundable"] == 500
    rest = await api.post(f"/api/payments/{paid['id']}/refunds", json={})
    assert rest.json()["status"] == "refunded" and rest.json()["refunded_amount"] == 1000
    assert (await api.post(f"/api/payments/{paid['id']}/refunds", json={"amount": 1})).status_code == 409
    assert (await api.post(f"/api/payments/{paid['id']}/cancel")).status_code == 409
    assert await count_rows(db_engine, "refunds", str(paid["id"])) == 3
    assert (await event_types(db_engine, str(paid["id"])))[-3:] == ["payment.refunded"] * 3


async def test_bad_refund_bodies(api: httpx.AsyncClient, db_engine: AsyncEngine) -> None:
    paid = await _paid(api)
    for body in ({"amount": 0}, {"amount": -1}, {"amount": "5"}, {"amount": 1.5}, {"other": 1}):
        response = await api.post(f"/api/payments/{paid['id']}/refunds", json=body)
        assert response.status_code == 400, body
    assert await count_rows(db_engine, "refunds") == 0


async def test_concurrent_refunds_never_exceed_the_capture(
    api: httpx.AsyncClient, db_engine: AsyncEngine
) -> None:
    paid = await _paid(api, amount=1000)
    responses = await asyncio.gather(
        *(api.post(f"/api/payments/{paid['id']}/refunds", json={"amount": 300}) for _ in range(6))
    )
    assert sorted(r.status_code for r in responses) == [201, 201, 201, 422, 422, 422]
    async with db_engine.connect() as conn:
        total = (
            await conn.execute(
                text("SELECT sum(amount) FROM refunds WHERE payment_id = :p"), {"p": paid["id"]}
            )
        ).scalar_one()
    assert total == 900
    assert (await api.get(f"/api/payments/{paid['id']}")).json()["refunded_amount"] == 900


async def test_refund_idempotency_key_refunds_once(api: httpx.AsyncClient, db_engine: AsyncEngine) -> None:
    paid = await _paid(api, amount=1000)
    url = f"/api/payments/{paid['id']}/refunds"
    first = await api.post(url, json={"amount": 100}, headers={"Idempotency-Key": "r1"})
    again = await api.post(url, json={"amount": 100}, headers={"Idempotency-Key": "r1"})
    assert first.content == again.content
    other = await api.post(url, json={"amount": 200}, headers={"Idempotency-Key": "r1"})
    assert other.status_code == 422
    assert await count_rows(db_engine, "refunds") == 1


async def test_cash_lifecycle(api: httpx.AsyncClient, db_engine: AsyncEngine) -> None:
    cash = await create_payment(api, provider="cash", return_url=None, cancel_url=None)
    assert cash["status"] == "pending" and cash["checkout_url"] is None
    assert (await api.post(f"/api/payments/{cash['id']}/verify")).json()["status"] == "pending"
    bad = await api.post(f"/api/payments/{cash['id']}/confirm-cash", json={"confirmed_by": ""})
    assert bad.status_code == 400
    confirmed = await api.post(f"/api/payments/{cash['id']}/confirm-cash", json={"confirmed_by": "clerk-7"})
    assert confirmed.status_code == 200
    body = confirmed.json()
    assert body["status"] == "succeeded" and body["confirmed_by"] == "clerk-7"
    assert body["captured_amount"] == cash["amount"]
    assert abs(datetime.fromisoformat(body["confirmed_at"]) - datetime.now(UTC)) < timedelta(minutes=5)
    again = await api.post(f"/api/payments/{cash['id']}/confirm-cash", json={"confirmed_by": "clerk-8"})
    assert again.status_code == 409
    refund = await api.post(f"/api/payments/{cash['id']}/refunds", json={})
    assert refund.json()["status"] == "refunded"
    assert await event_sources(db_engine, cash["id"]) == [
        ("payment.created", "payer"),
        ("payment.succeeded", "cash_confirmation"),
        ("payment.refunded", "operator"),
    ]
    mock = await create_payment(api)
    not_cash = await api.post(f"/api/payments/{mock['id']}/confirm-cash", json={"confirmed_by": "x"})
    assert not_cash.status_code == 409


async def test_cash_can_be_canceled_before_confirmation(api: httpx.AsyncClient) -> None:
    cash = await create_payment(api, provider="cash")
    assert (await api.post(f"/api/payments/{cash['id']}/cancel")).json()["status"] == "canceled"
    confirm = await api.post(f"/api/payments/{cash['id']}/confirm-cash", json={"confirmed_by": "clerk"})
    assert confirm.status_code == 409


async def test_daily_stats(api: httpx.AsyncClient, db_engine: AsyncEngine) -> None:
    await _paid(api, amount=1000)
    await _paid(api, amount=500)
    await create_payment(api, amount=700)
    await create_payment(api, amount=300, provider="cash")
    await create_payment(api, amount=900, currency="JPY")
    old = await create_payment(api, amount=111)
    async with db_engine.begin() as conn:
        await conn.execute(
            text("UPDATE payments SET created_at = '2026-01-15T12:00:00Z' WHERE id = :p"), {"p": old["id"]}
        )
    today = datetime.now(UTC).date().isoformat()
    response = await api.get("/api/payments/stats/daily", params={"to": today, "days": 1})
    assert response.status_code == 200
    stats = response.json()
    rows = {(r["provider"], r["status"], r["currency"]): (r["count"], r["amount"]) for r in stats["items"]}
    assert rows == {
        ("mock", "succeeded", "EUR"): (2, 1500),
        ("mock", "pending", "EUR"): (1, 700),
        ("cash", "pending", "EUR"): (1, 300),
        ("mock", "pending", "JPY"): (1, 900),
    }
    assert {r["day"] for r in stats["items"]} == {today}
    january = (await api.get("/api/payments/stats/daily", params={"to": "2026-01-31", "days": 31})).json()
    assert january["items"] == [
        {
            "day": "2026-01-15",
            "provider": "mock",
            "status": "pending",
            "currency": "EUR",
            "count": 1,
            "amount": 111,
        }
    ]
    assert january["day_from"] == "2026-01-01"
    last_30_days = (await api.get("/api/payments/stats/daily")).json()
    assert last_30_days["day_to"] == today
    assert {r["day"] for r in last_30_days["items"]} == {today}  # mid-January is older than 30 days
    for bad in ({"to": "nope"}, {"days": 0}, {"days": 367}, {"to": "2026-02-30"}):
        response = await api.get("/api/payments/stats/daily", params=bad)
        assert response.status_code == 400, (bad, response.text)


async def test_daily_stats_at_the_edges_of_the_calendar(
    api: httpx.AsyncClient, db_engine: AsyncEngine
) -> None:
    """The last day has no day after it and the first days have no 29 days before them: answered, not
    a 500 (the window stops at 0001-01-01); days outside the calendar are not dates (400)."""
    await create_payment(api)
    for params in ({"to": "10000-01-01"}, {"to": "0000-12-31"}):
        response = await api.get("/api/payments/stats/daily", params=params)
        assert response.status_code == 400, (params, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    first_days = await api.get("/api/payments/stats/daily", params={"to": "0001-01-05"})
    assert first_days.status_code == 200, first_days.text
    assert first_days.json() == {"day_from": "0001-01-01", "day_to": "0001-01-05", "items": []}
    last_day = await api.get("/api/payments/stats/daily", params={"to": "9999-12-31", "days": 365})
    assert last_day.status_code == 200, last_day.text
    assert last_day.json()["day_from"] == "9999-01-01"
    assert last_day.json()["items"] == []
    assert await count_rows(db_engine, "payments") == 1
