"""Idempotency keys and bad input on POST /api/payments, over HTTP against the real database."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.payment_ms.conftest import count_rows, create_payment, payment_body

TABLES = ("payments", "payment_events", "idempotency_keys", "refunds")


async def _nothing_written(db_engine: AsyncEngine) -> None:
    for table in TABLES:
        assert await count_rows(db_engine, table) == 0, table


async def test_same_key_same_body_replays_bytes(api: httpx.AsyncClient, db_engine: AsyncEngine) -> None:
    body = payment_body()
    first = await api.post("/api/payments", json=body, headers={"Idempotency-Key": "order-1"})
    # same request, keys in another order: the same canonical request
    reordered = dict(reversed(list(body.items())))
    second = await api.post("/api/payments", json=reordered, headers={"Idempotency-Key": "order-1"})
    assert first.status_code == second.status_code == 201
    assert first.content == second.content
    assert await count_rows(db_engine, "payments") == 1
    assert await count_rows(db_engine, "payment_events") == 1


async def test_same_key_other_body_is_422(api: httpx.AsyncClient, db_engine: AsyncEngine) -> None:
    body = payment_body()
    await api.post("/api/payments", json=body, headers={"Idempotency-Key": "k"})
    other = await api.post("/api/payments", json={**body, "amount": 9999}, headers={"Idempotency-Key": "k"})
    assert other.status_code == 422
    assert other.headers["content-type"].startswith("application/problem+json")
    assert await count_rows(db_engine, "payments") == 1


async def test_keys_are_scoped_per_user(api: httpx.AsyncClient, db_engine: AsyncEngine) -> None:
    for _ in range(2):
        response = await api.post("/api/payments", json=payment_body(), headers={"Idempotency-Key": "same"})
        assert response.status_code == 201
    assert await count_rows(db_engine, "payments") == 2


async def test_fifty_concurrent_identical_requests_make_one_payment(
    api: httpx.AsyncClient, db_engine: AsyncEngine
) -> None:
    body = payment_body()
    key = uuid.uuid4().hex
    responses = await asyncio.gather(
        *(api.post("/api/payments", json=body, headers={"Idempotency-Key": key}) for _ in range(50))
    )
    assert {r.status_code for r in responses} == {201}
    assert len({r.content for r in responses}) == 1
    assert await count_rows(db_engine, "payments") == 1
    assert await count_rows(db_engine, "payment_events") == 1


async def test_missing_key_is_400_and_writes_nothing(api: httpx.AsyncClient, db_engine: AsyncEngine) -> None:
    response = await api.post("/api/payments", json=payment_body())
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    too_long = await api.post("/api/payments", json=payment_body(), headers={"Idempotency-Key": "k" * 256})
    assert too_long.status_code == 400
    assert too_long.headers["content-type"].startswith("application/problem+json")
    await _nothing_written(db_engine)


@pytest.mark.parametrize(
    ("overrides", "status"),
    [
        ({"currency": "ZZZ"}, 400),  # not in the documented list of ISO 4217 money codes
        ({"currency": "XAU"}, 400),
        ({"currency": "eur"}, 400),
        ({"amount": 0}, 400),
        ({"amount": -5}, 400),
        ({"amount": 100_000_001}, 422),
        ({"amount": 10.5}, 400),
        ({"amount": "100"}, 400),
        ({"amount": True}, 400),
        ({"user_id": "not-a-uuid"}, 400),
        ({"description": "x" * 501}, 400),
        ({"return_url": "h" * 2049}, 400),
        ({"metadata": {f"k{i}": i for i in range(51)}}, 400),
        ({"provider": "paypal"}, 400),
        ({"capture_method": "later"}, 400),
        ({"unexpected": 1}, 400),
        ({"provider": "cash", "capture_method": "manual"}, 422),
        ({"provider": "stripe"}, 422),  # not configured in this process
        # NUL reaches PostgreSQL as an error (TEXT and JSONB refuse it); other C0 controls are refused too
        ({"description": "Concert\u0000ticket"}, 400),
        ({"description": "bell\u0007"}, 400),
        ({"payer_name": "Pat\u0000"}, 400),
        ({"payer_name": "Pat\nPayer"}, 400),
        ({"payer_name": "Pat Payer\n"}, 400),
        ({"payer_email": "payer@example.com\n"}, 400),
        ({"metadata": {"order\n": "A-1"}}, 400),
        ({"return_url": "http://127.0.0.1:5173/return\n"}, 400),
        ({"payer_email": "payer\u0000@example.com"}, 400),
        ({"payer_email": "payer@exam\u0000ple.com"}, 400),
        ({"metadata": {"order\u0000": "A-1"}}, 400),
        ({"metadata": {"order": "A\u0000-1"}}, 400),
        ({"metadata": {"order": "\u001b[31m"}}, 400),
        ({"metadata": {"k" * 41: "v"}}, 400),
        ({"metadata": {"order": "v" * 501}}, 400),
        ({"metadata": {"order": "v" * 900_000}}, 400),
        ({"return_url": "http://127.0.0.1:5173/re\u0000turn"}, 400),
        ({"cancel_url": "http://127.0.0.1:5173/cancel\u0000"}, 400),
        ({"return_url": "javascript:alert(1)"}, 400),
        ({"cancel_url": "JavaScript://%0aalert(1)"}, 400),
        ({"return_url": "data:text/html,<script>alert(1)</script>"}, 400),
        ({"return_url": "//evil.example/x"}, 400),
        ({"return_url": "http://127.0.0.1:5173/a b"}, 400),
        ({"return_url": ""}, 400),
    ],
)
async def test_bad_input_is_a_problem_and_writes_nothing(
    api: httpx.AsyncClient, db_engine: AsyncEngine, overrides: dict[str, object], status: int
) -> None:
    response = await api.post(
        "/api/payments", json=payment_body(**overrides), headers={"Idempotency-Key": "bad"}
    )
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    await _nothing_written(db_engine)


async def test_malformed_json_and_wrong_shapes(api: httpx.AsyncClient, db_engine: AsyncEngine) -> None:
    headers = {"Idempotency-Key": "x", "Content-Type": "application/json"}
    for raw in (b"{not json", b"[]", b"null", b'{"amount": 1}', b"\xff\xfe"):
        response = await api.post("/api/payments", content=raw, headers=headers)
        assert response.status_code == 400, (raw, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    await _nothing_written(db_engine)


async def test_service_token_is_required(payment_ms: object, db_engine: AsyncEngine) -> None:
    from tests.fixtures.services import RunningService

    assert isinstance(payment_ms, RunningService)
    async with httpx.AsyncClient(base_url=payment_ms.url) as client:
        for headers in ({}, {"X-Service-Token": "wrong"}, {"Authorization": "Bearer some.jwt.token"}):
            created = await client.post(
                "/api/payments", json=payment_body(), headers={"Idempotency-Key": "a", **headers}
            )
            assert created.status_code == 401
            assert created.headers["content-type"].startswith("application/problem+json")
            listed = await client.get("/api/payments", headers=headers)
            assert listed.status_code == 401
    await _nothing_written(db_engine)


async def test_unknown_ids_are_404(api: httpx.AsyncClient, db_engine: AsyncEngine) -> None:
    missing = uuid.uuid4()
    assert (await api.get(f"/api/payments/{missing}")).status_code == 404
    for action, body in (
        ("verify", None),
        ("cancel", None),
        ("capture", None),
        ("refunds", {}),
        ("confirm-cash", {"confirmed_by": "clerk"}),
    ):
        response = await api.post(f"/api/payments/{missing}/{action}", json=body)
        assert response.status_code == 404, action
        assert response.headers["content-type"].startswith("application/problem+json")
    # the path parameter is typed ``uuid``: anything else matches no route
    not_uuid = await api.get("/api/payments/not-a-uuid")
    assert not_uuid.status_code == 404
    assert not_uuid.headers["content-type"].startswith("application/problem+json")
    assert (await api.get(f"/checkout/mock/{missing}")).status_code == 404
    await _nothing_written(db_engine)


async def test_optional_key_on_commands_replays(api: httpx.AsyncClient, db_engine: AsyncEngine) -> None:
    payment = await create_payment(api)
    first = await api.post(f"/api/payments/{payment['id']}/cancel", headers={"Idempotency-Key": "c1"})
    again = await api.post(f"/api/payments/{payment['id']}/cancel", headers={"Idempotency-Key": "c1"})
    assert first.status_code == again.status_code == 200
    assert first.content == again.content
    # without the key, a second cancel is an illegal move
    assert (await api.post(f"/api/payments/{payment['id']}/cancel")).status_code == 409
    assert await count_rows(db_engine, "payment_events", payment["id"]) == 2


async def test_list_filters_and_cursor(api: httpx.AsyncClient) -> None:
    user = str(uuid.uuid4())
    created = [await create_payment(api, user_id=user, amount=100 + i) for i in range(5)]
    await create_payment(api)  # someone else's
    await api.post(f"/api/payments/{created[0]['id']}/cancel")

    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"user_id": user, "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await api.get("/api/payments", params=params)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [p["id"] for p in reversed(created)]

    canceled = (await api.get("/api/payments", params={"user_id": user, "status": "canceled"})).json()
    assert [p["id"] for p in canceled["items"]] == [created[0]["id"]]
    by_reservation = (
        await api.get("/api/payments", params={"reservation_id": created[2]["reservation_id"]})
    ).json()
    assert [p["id"] for p in by_reservation["items"]] == [created[2]["id"]]
    future = (await api.get("/api/payments", params={"created_from": "2999-01-01T00:00:00Z"})).json()
    assert future == {"items": [], "next_cursor": None}
    assert (await api.get("/api/payments", params={"cursor": "garbage!"})).status_code == 400
    assert (await api.get("/api/payments", params={"limit": 0})).status_code == 400
    assert (await api.get("/api/payments", params={"status": "weird"})).status_code == 400


async def test_text_limits_accept_what_they_should(api: httpx.AsyncClient, db_engine: AsyncEngine) -> None:
    """The edges of the text rules: tabs and new lines in free text, 500-character metadata values,
    40-character keys, https URLs in any letter case, numbers and booleans as metadata values."""
    payment = await create_payment(
        api,
        description="Row 7\tSeat 12\r\nBalcony",
        metadata={"k" * 40: "v" * 500, "note": "line 1\nline 2", "n": 3, "flag": True, "none": None},
        return_url="HTTPS://shop.example/return?x=1",
        cancel_url="https://shop.example/cancel#top",
    )
    assert payment["description"] == "Row 7\tSeat 12\r\nBalcony"
    assert payment["metadata"]["k" * 40] == "v" * 500
    assert payment["metadata"]["n"] == 3 and payment["metadata"]["flag"] is True
    assert await count_rows(db_engine, "payments") == 1


async def test_control_characters_in_command_bodies_are_refused(
    api: httpx.AsyncClient, db_engine: AsyncEngine
) -> None:
    cash = await create_payment(api, provider="cash", return_url=None, cancel_url=None)
    for confirmed_by in ("clerk\u00007", "clerk\u0001", "clerk\n7"):
        response = await api.post(
            f"/api/payments/{cash['id']}/confirm-cash", json={"confirmed_by": confirmed_by}
        )
        assert response.status_code == 400, (confirmed_by, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    unchanged = (await api.get(f"/api/payments/{cash['id']}")).json()
    assert unchanged["status"] == "pending" and unchanged["confirmed_by"] is None
    confirmed = await api.post(f"/api/payments/{cash['id']}/confirm-cash", json={"confirmed_by": "clerk-7"})
    assert confirmed.status_code == 200
    for reason in ("seat\u0000", "seat\u007f", "x" * 501):
        response = await api.post(f"/api/payments/{cash['id']}/refunds", json={"amount": 1, "reason": reason})
        assert response.status_code == 400, (reason, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    assert await count_rows(db_engine, "refunds") == 0
    assert await count_rows(db_engine, "payment_events", cash["id"]) == 2  # created, succeeded


async def test_list_filters_provider_and_created_range(
    api: httpx.AsyncClient, db_engine: AsyncEngine
) -> None:
    user = str(uuid.uuid4())
    mock = await create_payment(api, user_id=user)
    cash = await create_payment(api, user_id=user, provider="cash", return_url=None, cancel_url=None)
    old = await create_payment(api, user_id=user)
    async with db_engine.begin() as conn:
        await conn.execute(
            text("UPDATE payments SET created_at = '2026-01-15T12:00:00Z' WHERE id = :p"), {"p": old["id"]}
        )

    async def ids(**params: str) -> list[str]:
        response = await api.get("/api/payments", params={"user_id": user, **params})
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert await ids(provider="cash") == [cash["id"]]
    assert await ids(provider="mock") == [mock["id"], old["id"]]
    assert await ids(provider="stripe") == []
    # created_from is inclusive, created_to exclusive
    assert await ids(created_to="2026-01-15T12:00:00Z") == []
    assert await ids(created_to="2026-01-15T12:00:00.000001Z") == [old["id"]]
    assert await ids(created_from="2026-01-15T12:00:00Z", created_to="2026-01-16T00:00:00Z") == [old["id"]]
    assert await ids(created_from="2026-01-15T12:00:00.000001Z") == [cash["id"], mock["id"]]
    assert await ids(created_from="2020-01-01T00:00:00Z") == [cash["id"], mock["id"], old["id"]]
    assert await ids(
        created_from="2020-01-01T00:00:00Z", provider="mock", created_to="2026-02-01T00:00:00Z"
    ) == [old["id"]]
    assert (await api.get("/api/payments", params={"provider": "paypal"})).status_code == 400
    assert (await api.get("/api/payments", params={"created_to": "yesterday"})).status_code == 400
