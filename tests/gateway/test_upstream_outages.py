"""Outages the gateway must answer with problem+json, never a 500 or a hang:

- its database down (refusing, then silent): the health check says which part is unavailable;
- payment_ms killed while the gateway holds pooled keep-alive connections to it: 503;
- payment_ms stalled: 504, bounded by GATEWAY_PAYMENT_MS_TIMEOUT (the read timeout is set far above
  it here, so only the configured deadline can end the wait before the test's own client gives up).
"""

from __future__ import annotations

import asyncio
import signal
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.embedded_pg import free_port
from tests.fixtures.checkout import checkout, payment_count, reservation_state
from tests.fixtures.services import RunningService, run_service, service_env
from tests.fixtures.waiting import eventually
from tests.gateway.conftest import MakeAccount, MakeReservation

PROBLEM = "application/problem+json"
DEADLINE_SECONDS = 1.5  # GATEWAY_PAYMENT_MS_TIMEOUT of the gateway under test


@asynccontextmanager
async def silent_server(port: int) -> AsyncIterator[asyncio.Event]:
    """Accepts connections and never answers (a stalled database or service)."""
    accepted = asyncio.Event()

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.set()
        await reader.read()
        writer.close()

    server = await asyncio.start_server(never_answer, "127.0.0.1", port)
    try:
        yield accepted
    finally:
        server.close()
        await server.wait_closed()


@pytest.fixture(scope="module")
def database_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def gateway_without_database(
    database_port: int, payment_ms: RunningService, log_dir: Path
) -> Iterator[RunningService]:
    url = f"postgresql+asyncpg://paygate:x@127.0.0.1:{database_port}/paygate"
    env = service_env(url, GATEWAY_PAYMENT_MS_URL=payment_ms.url)
    with run_service("gateway", env, log_dir) as service:
        yield service


async def test_health_check_with_the_database_down(
    gateway_without_database: RunningService, database_port: int, http: httpx.AsyncClient
) -> None:
    url = f"{gateway_without_database.url}/payment-gateway/health/check"
    expected = {"status": "degraded", "gateway": "ok", "database": "unavailable", "payment_ms": "ok"}
    refused = await http.get(url)
    assert refused.status_code == 503 and refused.headers["content-type"] == PROBLEM
    assert {k: refused.json()[k] for k in expected} == expected
    async with silent_server(database_port) as accepted:
        stalled = await http.get(url)  # the check's own timeout ends it, well before the client's 10 s
        assert accepted.is_set()
    assert stalled.status_code == 503 and stalled.headers["content-type"] == PROBLEM
    assert {k: stalled.json()[k] for k in expected} == expected
    ready = await http.get(f"{gateway_without_database.url}/ready")
    assert ready.status_code == 503


@dataclass
class Pair:
    payment_ms: RunningService
    payment_ms_port: int
    gateway: RunningService


@pytest.fixture(scope="module")
def pair(database_url: str, log_dir: Path) -> Iterator[Pair]:
    """A payment_ms of this module's own (the test kills it) and a gateway in front of it."""
    port = free_port()
    ms_env = service_env(database_url, PAYMENT_MS_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}")
    with run_service("payment-ms", ms_env, log_dir, port=port) as payment_ms:
        gw_env = service_env(
            database_url,
            GATEWAY_PAYMENT_MS_URL=payment_ms.url,
            GATEWAY_PAYMENT_MS_CONNECT_TIMEOUT="30",
            GATEWAY_PAYMENT_MS_READ_TIMEOUT="30",
            GATEWAY_PAYMENT_MS_TIMEOUT=str(DEADLINE_SECONDS),
        )
        with run_service("gateway", gw_env, log_dir) as gateway:
            yield Pair(payment_ms, port, gateway)


def _refuses(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


async def test_payment_ms_killed_under_pooled_connections_then_stalled(
    pair: Pair,
    http: httpx.AsyncClient,
    make_account: MakeAccount,
    make_reservation: MakeReservation,
    db_engine: AsyncEngine,
) -> None:
    owner = await make_account(base_url=pair.gateway.url)
    paid_for, untouched = await make_reservation(owner), await make_reservation(owner)
    gw = pair.gateway.url
    started = await checkout(http, pair.gateway, owner, paid_for)
    assert started.status_code == 201, started.text
    pid = started.json()["payment_id"]
    # several requests at once: the gateway now keeps several keep-alive connections to payment_ms
    warm = await asyncio.gather(
        *(http.get(f"{gw}/payment-gateway/{pid}", headers=owner.headers) for _ in range(8))
    )
    assert {r.status_code for r in warm} == {200}

    pair.payment_ms.process.signal(signal.SIGKILL)
    await asyncio.to_thread(pair.payment_ms.process.process.wait, 10)  # type: ignore[union-attr]
    await eventually(lambda: asyncio.to_thread(_refuses, pair.payment_ms_port), what="payment_ms gone")

    attempts = {
        "get (retried)": await http.get(f"{gw}/payment-gateway/{pid}", headers=owner.headers),
        "cancel (not retried)": await http.post(f"{gw}/payment-gateway/{pid}/cancel", headers=owner.headers),
        "checkout (keyed)": await checkout(http, pair.gateway, owner, untouched),
        "verify": await http.post(f"{gw}/payment-gateway/{pid}/verify", headers=owner.headers),
    }
    for what, response in attempts.items():
        assert response.status_code == 503, (what, response.status_code, response.text)
        assert response.headers["content-type"] == PROBLEM, what
    assert await reservation_state(db_engine, untouched) == ("payable", None, None)

    async with silent_server(pair.payment_ms_port) as accepted:
        # the test's client waits 3x the configured deadline: a 504 before that is the gateway's own
        async with httpx.AsyncClient(timeout=3 * DEADLINE_SECONDS) as bounded:
            stalled = await checkout(bounded, pair.gateway, owner, untouched, key=uuid.uuid4().hex)
            got = await bounded.get(f"{gw}/payment-gateway/{pid}", headers=owner.headers)
        assert accepted.is_set()
    assert stalled.status_code == 504 and stalled.headers["content-type"] == PROBLEM
    assert got.status_code == 504 and got.headers["content-type"] == PROBLEM
    assert await reservation_state(db_engine, untouched) == ("payable", None, None)
    assert await payment_count(db_engine) == 1
