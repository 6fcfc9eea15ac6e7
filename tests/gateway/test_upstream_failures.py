"""payment_ms stopped or stalled: 503/504 problem+json within the configured deadline, nothing written."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.embedded_pg import free_port
from tests.fixtures.checkout import checkout, reservation_state
from tests.fixtures.services import RunningService, run_service, service_env
from tests.gateway.conftest import MakeAccount, MakeReservation

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def lonely_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def lonely_gateway(database_url: str, log_dir: Path, lonely_port: int) -> Iterator[RunningService]:
    """A gateway whose payment_ms address has nothing behind it (or, later, a server that never answers)."""
    env = service_env(
        database_url,
        GATEWAY_PAYMENT_MS_URL=f"http://127.0.0.1:{lonely_port}",
        GATEWAY_PAYMENT_MS_CONNECT_TIMEOUT="0.5",
        GATEWAY_PAYMENT_MS_READ_TIMEOUT="1.0",
        GATEWAY_PAYMENT_MS_TIMEOUT="1.5",
    )
    with run_service("gateway", env, log_dir) as service:
        yield service


async def test_payment_ms_down_then_stalled(
    lonely_gateway: RunningService,
    lonely_port: int,
    http: httpx.AsyncClient,
    make_account: MakeAccount,
    make_reservation: MakeReservation,
    db_engine: AsyncEngine,
) -> None:
    owner = await make_account()
    reservation_id = await make_reservation(owner)

    down = await checkout(http, lonely_gateway, owner, reservation_id)
    assert down.status_code == 503 and down.headers["content-type"] == PROBLEM
    got = await http.get(f"{lonely_gateway.url}/payment-gateway/{uuid.uuid4()}", headers=owner.headers)
    assert got.status_code == 503
    health = await http.get(f"{lonely_gateway.url}/payment-gateway/health/check")
    assert health.status_code == 503 and health.json()["payment_ms"] == "unavailable"
    assert health.json()["database"] == "ok"
    assert await reservation_state(db_engine, reservation_id) == ("payable", None, None)

    accepted = asyncio.Event()

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.set()
        await reader.read()  # hold the connection open until the gateway gives up
        writer.close()

    server = await asyncio.start_server(never_answer, "127.0.0.1", lonely_port)
    try:
        stalled = await checkout(http, lonely_gateway, owner, reservation_id)
        assert stalled.status_code == 504 and stalled.headers["content-type"] == PROBLEM
        assert accepted.is_set()
        verify = await http.post(
            f"{lonely_gateway.url}/payment-gateway/{uuid.uuid4()}/verify", headers=owner.headers
        )
        assert verify.status_code == 504
    finally:
        server.close()
        await server.wait_closed()
    assert await reservation_state(db_engine, reservation_id) == ("payable", None, None)
