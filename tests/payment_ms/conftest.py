"""payment_ms over real HTTP: a client with the service token, payment bodies, the mock page as a browser."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.fixtures.checkout_page import submit_choice
from tests.fixtures.services import TEST_SERVICE_TOKEN, RunningService

TOKEN_HEADERS = {"X-Service-Token": TEST_SERVICE_TOKEN}


@pytest.fixture
async def api(payment_ms: RunningService) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=payment_ms.url, headers=TOKEN_HEADERS, timeout=20.0) as client:
        yield client


def payment_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "reservation_id": str(uuid.uuid4()),
        "user_id": str(uuid.uuid4()),
        "amount": 2500,
        "currency": "EUR",
        "description": "Concert ticket",
        "payer_email": "payer@example.com",
        "payer_name": "Pat Payer",
        "return_url": "http://127.0.0.1:5173/return",
        "cancel_url": "http://127.0.0.1:5173/cancel",
        "metadata": {"order": "A-1"},
        "provider": "mock",
    }
    body.update(overrides)
    return body


async def create_payment(api: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    response = await api.post(
        "/api/payments", json=payment_body(**overrides), headers={"Idempotency-Key": uuid.uuid4().hex}
    )
    assert response.status_code == 201, response.text
    payment: dict[str, Any] = response.json()
    return payment


async def choose_on_mock_page(api: httpx.AsyncClient, payment: dict[str, Any], choice: str) -> httpx.Response:
    """What a browser does: load the hosted page, then submit one of its forms (no service token)."""
    return await submit_choice(api, "", payment["checkout_url"], choice, **{"X-Service-Token": ""})


async def count_rows(db_engine: AsyncEngine, table: str, payment_id: str | None = None) -> int:
    query = f"SELECT count(*) FROM {table}"  # test-only: table names are literals in the tests
    params: dict[str, Any] = {}
    if payment_id is not None:
        query += " WHERE payment_id = :pid"
        params["pid"] = payment_id
    async with db_engine.connect() as conn:
        return int((await conn.execute(text(query), params)).scalar_one())


async def event_sources(db_engine: AsyncEngine, payment_id: str) -> list[tuple[str, str | None]]:
    """(type, source) of the payment's events, in order."""
    async with db_engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT type, source FROM payment_events WHERE payment_id = :pid ORDER BY sequence"),
            {"pid": payment_id},
        )
        return [(row.type, row.source) for row in rows]


async def event_types(db_engine: AsyncEngine, payment_id: str) -> list[str]:
    async with db_engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT type FROM payment_events WHERE payment_id = :pid ORDER BY sequence"),
            {"pid": payment_id},
        )
        return [row.type for row in rows]
