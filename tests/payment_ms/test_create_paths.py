"""The two ways a payment is created write the same rows: the single raw statement of a provider with no
network call (mock, cash) and Stripe's two transactions around its API call. Same request bytes, same
Idempotency-Key, same request id; only what is the provider's own (ids, the checkout URL, its state)
and what the clock or a new id decides may differ."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any
from urllib.parse import parse_qs

import httpx
import respx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.payment_ms.conftest import AppSettings, payment_body
from tests.payment_ms.inprocess import STRIPE, session_object

# What the provider, the clock or a fresh id decides.
PROVIDER_COLUMNS = {
    "provider",
    "checkout_url",
    "provider_session_id",
    "provider_status",
    "provider_payment_id",
}
IDS_AND_TIMES = {"id", "payment_id", "created_at", "updated_at", "fan_out_due_at"}
PAYMENT_FIELDS_THAT_DIFFER = {"id", "provider", "checkout_url", "created_at", "updated_at"}


def _without(values: dict[str, Any], keys: set[str]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k not in keys}


def _payment_json(raw: Any) -> dict[str, Any]:
    payment = json.loads(raw) if isinstance(raw, (bytes, str)) else raw
    return _without(payment, PAYMENT_FIELDS_THAT_DIFFER)


async def _rows(db_engine: AsyncEngine) -> dict[str, list[dict[str, Any]]]:
    """Every payment, event and idempotency row, minus the columns allowed to differ."""
    async with db_engine.connect() as conn:
        tables = {
            table: [dict(r) for r in (await conn.execute(text(f"SELECT * FROM {table}"))).mappings()]
            for table in ("payments", "payment_events", "idempotency_keys")
        }
    for event in tables["payment_events"]:
        event["data"] = _payment_json(event["data"])
    for key in tables["idempotency_keys"]:
        key["response_body"] = _payment_json(bytes(key["response_body"]))
    return {
        table: [_without(row, PROVIDER_COLUMNS | IDS_AND_TIMES) for row in rows]
        for table, rows in tables.items()
    }


async def _create(client: httpx.AsyncClient, body: dict[str, Any], key: str) -> httpx.Response:
    headers = {"Idempotency-Key": key, "X-Request-ID": "req-create-paths"}
    response = await client.post("/api/payments", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response


async def test_the_single_statement_and_the_two_transaction_create_write_the_same_rows(
    client: httpx.AsyncClient, stripe: respx.MockRouter, db_engine: AsyncEngine, app_settings: AppSettings
) -> None:
    def checkout_session(request: httpx.Request) -> httpx.Response:
        payment_id = parse_qs(request.content.decode())["client_reference_id"][0]
        return httpx.Response(200, json=session_object("cs_test_same_rows", payment_id))

    route = stripe.post(f"{STRIPE}/v1/checkout/sessions").mock(side_effect=checkout_session)
    # The same bytes for both: no "provider" in the body, the default provider decides.
    body = payment_body(user_id=str(uuid.UUID(int=7)))
    del body["provider"]
    key = "same-key-both-paths"

    app_settings(default_provider="mock")
    local = (await _create(client, body, key)).json()
    local_rows = await _rows(db_engine)
    async with db_engine.begin() as conn:
        await conn.execute(text("TRUNCATE payments, payment_events, idempotency_keys CASCADE"))

    app_settings(default_provider="stripe")
    remote = (await _create(client, body, key)).json()
    remote_rows = await _rows(db_engine)

    assert route.call_count == 1
    assert (local["provider"], remote["provider"]) == ("mock", "stripe")
    assert _payment_json(local) == _payment_json(remote)
    assert [len(rows) for rows in local_rows.values()] == [1, 1, 1]
    assert local_rows == remote_rows
    # what the comparison covers, so it cannot pass by comparing nothing
    assert local_rows["payment_events"][0]["type"] == "payment.created"
    assert local_rows["payment_events"][0]["request_id"] == "req-create-paths"
    assert local_rows["idempotency_keys"][0]["state"] == "completed"
    assert local_rows["payments"][0]["metadata"] == {"order": "A-1"}


async def test_both_create_paths_refuse_a_second_live_payment_of_a_reservation(
    client: httpx.AsyncClient, stripe: respx.MockRouter, db_engine: AsyncEngine, app_settings: AppSettings
) -> None:
    """The partial unique index inside the create statement: 409 naming the live payment, nothing
    written, the provider never called; concurrent creates with other keys make one payment; once the
    live one ended the reservation can be paid again."""
    route = stripe.post(f"{STRIPE}/v1/checkout/sessions").mock(
        return_value=httpx.Response(500, json={"error": {"type": "api_error"}})
    )
    body = payment_body()
    del body["provider"]
    app_settings(default_provider="mock")
    first = (await _create(client, body, "first")).json()
    before = await _rows(db_engine)
    for provider in ("mock", "stripe"):
        app_settings(default_provider=provider)
        refused = await client.post(
            "/api/payments", json=body, headers={"Idempotency-Key": f"other-{provider}"}
        )
        assert refused.status_code == 409, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["type"].endswith("/reservation-has-live-payment")
        assert refused.json()["payment_id"] == first["id"]
    assert route.call_count == 0
    assert await _rows(db_engine) == before  # one payment, one event, one key: nothing more

    app_settings(default_provider="mock")
    other = payment_body()
    answers = await asyncio.gather(
        *(
            client.post("/api/payments", json=other, headers={"Idempotency-Key": f"race-{n}"})
            for n in range(8)
        )
    )
    assert sorted(a.status_code for a in answers) == [201] + [409] * 7

    canceled = await client.post(f"/api/payments/{first['id']}/cancel")
    assert canceled.status_code == 200 and canceled.json()["status"] == "canceled", canceled.text
    again = (await _create(client, body, "after-cancel")).json()
    assert again["reservation_id"] == first["reservation_id"] and again["id"] != first["id"]
