"""payment_ms over real HTTP: a client with the service token, payment bodies, the mock page as a browser;
and payment_ms served IN the test process on a real socket (one server a module, ``client``), so respx
(``stripe``) can stand in for api.stripe.com: respx patches httpx in-process only, and requests to
127.0.0.1 pass through to the real app."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
import respx
import uvicorn
from pydantic import SecretStr
from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncEngine

from payment_ms.settings import PaymentSettings
from shared.embedded_pg import free_port
from shared.settings import PaygateSettings, get_paygate_settings
from tests.fixtures.checkout_page import submit_choice
from tests.fixtures.services import TEST_SERVICE_TOKEN, RunningService
from tests.payment_ms.inprocess import STRIPE_KEY, WEBHOOK_SECRET_NEW, WEBHOOK_SECRET_OLD

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


async def post_payment(api: httpx.AsyncClient, key: str | None = None, **overrides: Any) -> httpx.Response:
    """``POST /api/payments`` of ``payment_body(**overrides)``, Idempotency-Key ``key`` (else a new one)."""
    headers = {"Idempotency-Key": key or uuid.uuid4().hex}
    return await api.post("/api/payments", json=payment_body(**overrides), headers=headers)


async def create_payment(api: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    response = await post_payment(api, **overrides)
    assert response.status_code == 201, response.text
    payment: dict[str, Any] = response.json()
    return payment


async def verified_status(api: httpx.AsyncClient, payment: dict[str, Any]) -> str:
    """The status ``POST /api/payments/{id}/verify`` answers for ``payment``."""
    status: str = (await api.post(f"/api/payments/{payment['id']}/verify")).json()["status"]
    return status


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


async def assert_nothing_created(db_engine: AsyncEngine) -> None:
    """A refused or failed create wrote nothing: no payment, no event, no idempotency key."""
    for table in ("payments", "payment_events", "idempotency_keys"):
        assert await count_rows(db_engine, table) == 0


async def only_event(db_engine: AsyncEngine, payment_id: str) -> RowMapping:
    """The payment's one event row (none or more than one fails)."""
    async with db_engine.connect() as conn:
        query = text("SELECT * FROM payment_events WHERE payment_id = :p")
        return (await conn.execute(query, {"p": payment_id})).mappings().one()


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


@pytest.fixture(scope="module")
def inprocess_settings(database_url: str) -> PaymentSettings:
    """The settings the in-process payment_ms is created with (``create_app(settings)``)."""
    return PaymentSettings(
        paygate=PaygateSettings(
            env="test",
            database_url=database_url,
            service_token=SecretStr(TEST_SERVICE_TOKEN),
            log_level="WARNING",
            access_log=False,
        ),
        stripe_secret_key=SecretStr(STRIPE_KEY),
        stripe_webhook_secrets=[SecretStr(WEBHOOK_SECRET_NEW), SecretStr(WEBHOOK_SECRET_OLD)],
    )


@pytest.fixture(scope="module")
async def inprocess_url(database_url: str, inprocess_settings: PaymentSettings) -> AsyncIterator[str]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    with pytest.MonkeyPatch.context() as mp:
        for name, value in {
            "PAYGATE_ENV": "test",
            "PAYGATE_DATABASE_URL": database_url,
            "PAYGATE_SERVICE_TOKEN": TEST_SERVICE_TOKEN,
            "PAYGATE_LOG_LEVEL": "WARNING",
            "PAYGATE_ACCESS_LOG": "false",
        }.items():
            mp.setenv(name, value)
        get_paygate_settings.cache_clear()
        from payment_ms.app import create_app

        port = free_port()
        app = create_app(inprocess_settings)  # its providers are built from these settings
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
        )
        task = asyncio.create_task(server.serve())
        async with asyncio.timeout(15):
            while not server.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.02)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            await task  # its lifespan closed its providers
            get_paygate_settings.cache_clear()
            root.handlers[:] = handlers
            root.setLevel(level)


AppSettings = Callable[..., None]


@pytest.fixture
def app_settings(monkeypatch: pytest.MonkeyPatch, inprocess_settings: PaymentSettings) -> AppSettings:
    """``app_settings(default_provider="stripe")``: the in-process payment_ms's own settings object
    changed (its app reads them per request), until the test ends."""

    def change(**values: object) -> None:
        for name, value in values.items():
            monkeypatch.setattr(inprocess_settings, name, value)

    return change


@pytest.fixture
async def client(inprocess_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """payment_ms's API with the service token, on the in-process server."""
    async with httpx.AsyncClient(base_url=inprocess_url, headers=TOKEN_HEADERS, timeout=20.0) as c:
        yield c


@pytest.fixture
def stripe() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        router.route(host="127.0.0.1").pass_through()
        yield router
