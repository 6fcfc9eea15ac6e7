"""The gateway writes a reservation's payment fields with asynchronous commit (payment_ms's durable
payment row and its events are the truth): PostgreSQL killed with ``-9`` right after a checkout loses
the gateway's write, keeps payment_ms's, and the reservation is right again after the next event or
read of its payment, while no second live payment can be created meanwhile.

The database is this module's own embedded PostgreSQL with ``synchronous_commit`` on (as in
production). Its WAL writer is stopped (SIGSTOP) before each checkout, so an asynchronously committed
record stays in PostgreSQL's WAL buffers, and ``kill -9`` of every server process loses exactly that;
a synchronous commit writes its WAL itself and survives (``fsync`` is off: a killed process, not a
lost OS page cache, is what is tested)."""

from __future__ import annotations

import contextlib
import os
import signal
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import asyncpg
import httpx
import msgspec
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.users.services import create_user
from shared.contracts import Payment
from shared.db import asyncpg_dsn, create_engine
from shared.embedded_pg import EmbeddedPostgres
from shared.models import Reservation
from tests.fixtures.checkout import PASSWORD, Account, checkout, deliver_event, login
from tests.fixtures.services import TEST_SERVICE_TOKEN, OwnStack, own_stack
from tests.fixtures.waiting import eventually, wait_until

SERVICE = {"X-Service-Token": TEST_SERVICE_TOKEN}
# Durable commits (the default synchronous_commit), nothing that flushes WAL behind the test's back.
CRASH_OPTIONS = {
    "fsync": "off",
    "full_page_writes": "off",
    "autovacuum": "off",
    "bgwriter_lru_maxpages": "0",
    "checkpoint_timeout": "3600",
    "wal_writer_delay": "10000ms",
}


@pytest.fixture(scope="module")
def crashable(log_dir: Path) -> Iterator[OwnStack]:
    with own_stack("crash-pg", CRASH_OPTIONS, log_dir) as stack:
        yield stack


def _server_pids(database: EmbeddedPostgres) -> list[int]:
    """The postmaster and every process it started."""
    postmaster = int((database.pgdata / "postmaster.pid").read_text().split()[0])
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == postmaster:
                children.append(int(entry.name))
    return [postmaster, *children]


async def _stop_wal_writer(url: str) -> None:
    row = await _fetchrow(url, "SELECT pid FROM pg_stat_activity WHERE backend_type = 'walwriter'")
    assert row is not None
    os.kill(row["pid"], signal.SIGSTOP)  # SIGKILL ends it later like every other server process


async def _unflushed_wal(url: str) -> bool:
    row = await _fetchrow(url, "SELECT pg_current_wal_flush_lsn() < pg_current_wal_insert_lsn() AS behind")
    return row is not None and bool(row["behind"])


def _kill_and_restart(database: EmbeddedPostgres) -> None:
    pids = _server_pids(database)
    os.kill(pids[0], signal.SIGSTOP)  # the postmaster reacts to nothing while its children die
    for pid in reversed(pids):
        with contextlib.suppress(ProcessLookupError):  # a backend that just ended
            os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not any(Path(f"/proc/{pid}").exists() for pid in pids), timeout=30)
    database.start()  # crash recovery replays what reached the WAL files


async def _fetchrow(url: str, sql: str, *args: object) -> asyncpg.Record | None:
    conn = await asyncpg.connect(asyncpg_dsn(url))  # a connection of its own: the server restarts
    try:
        return await conn.fetchrow(sql, *args)
    finally:
        await conn.close()


async def _state(url: str, reservation: uuid.UUID) -> tuple[str, uuid.UUID | None, str | None]:
    row = await _fetchrow(
        url, "SELECT status, payment_id, payment_status FROM reservations WHERE id = $1", reservation
    )
    assert row is not None
    return row["status"], row["payment_id"], row["payment_status"]


async def _payments_of(url: str, reservation: uuid.UUID) -> int:
    row = await _fetchrow(url, "SELECT count(*) AS n FROM payments WHERE reservation_id = $1", reservation)
    assert row is not None
    return int(row["n"])


async def _answered(request: Callable[[], Awaitable[httpx.Response]]) -> httpx.Response:
    """The first answer that is not a 503 (the services' pooled connections died with the server)."""

    async def attempt() -> httpx.Response | None:
        answer = await request()
        return None if answer.status_code == 503 else answer

    answer = await eventually(attempt, timeout=30, what="an answer once PostgreSQL is back")
    assert answer is not None
    return answer


async def _seed(crashable: OwnStack, http: httpx.AsyncClient) -> tuple[Account, list[uuid.UUID]]:
    engine = create_engine(crashable.url, pool_size=1, max_overflow=0)
    try:
        async with AsyncSession(engine) as session, session.begin():
            user = await create_user(session, email=f"{uuid.uuid4().hex[:8]}@example.com", password=PASSWORD)
            reservations = [
                Reservation(user_id=user.id, amount=2500, currency="EUR", description="Seat")
                for _ in range(3)
            ]
            session.add_all(reservations)
            await session.flush()
            user_id, email, ids = user.id, user.email, [r.id for r in reservations]
    finally:
        await engine.dispose()
    answer = await login(http, crashable.gateway.url, email)
    assert answer.status_code == 200, answer.text
    return Account(user_id, email, "user", answer.json()["access_token"]), ids


async def _crash_after_checkout(
    crashable: OwnStack, http: httpx.AsyncClient, payer: Account, reservation: uuid.UUID
) -> Payment:
    """A checkout whose gateway write is only in PostgreSQL's memory, then kill -9 and restart: the
    payment survives (payment_ms committed durably), the reservation's record of it does not."""
    url = crashable.url
    await _stop_wal_writer(url)
    started = await checkout(http, crashable.gateway, payer, reservation)
    assert started.status_code == 201, started.text
    payment_id = uuid.UUID(started.json()["payment_id"])
    assert await _state(url, reservation) == ("pending", payment_id, "pending")
    assert await _unflushed_wal(url)  # the gateway's commit did not wait for its WAL
    _kill_and_restart(crashable.database)
    assert await _state(url, reservation) == ("payable", None, None)  # the gateway's write was lost
    kept = await _answered(
        lambda: http.get(f"{crashable.payment_ms.url}/api/payments/{payment_id}", headers=SERVICE)
    )
    assert kept.status_code == 200, kept.text  # payment_ms's was not
    payment = msgspec.json.decode(kept.content, type=Payment)
    assert payment.status == "pending"
    return payment


async def test_a_lost_gateway_write_is_rebuilt_by_the_next_event_or_read(
    crashable: OwnStack, http: httpx.AsyncClient
) -> None:
    payer, (by_event, by_read, by_checkout) = await _seed(crashable, http)
    url, gateway = crashable.url, crashable.gateway

    # the next event of the payment, as the dispatcher delivers it
    payment = await _crash_after_checkout(crashable, http, payer, by_event)
    delivered = await _answered(lambda: deliver_event(http, gateway, payment, "payment.created"))
    assert delivered.status_code == 200 and delivered.json() == {"applied": True}
    assert await _state(url, by_event) == ("pending", payment.id, "pending")

    # the next read of the payment by its payer
    payment = await _crash_after_checkout(crashable, http, payer, by_read)
    read = await _answered(
        lambda: http.get(f"{gateway.url}/payment-gateway/{payment.id}", headers=payer.headers)
    )
    assert read.status_code == 200 and read.json()["id"] == str(payment.id), read.text
    assert await _state(url, by_read) == ("pending", payment.id, "pending")

    # another checkout, with another key, while the gateway has no record of the live payment:
    # payment_ms refuses a second one, and the gateway learns the live one from its answer
    payment = await _crash_after_checkout(crashable, http, payer, by_checkout)
    again = await _answered(lambda: checkout(http, gateway, payer, by_checkout))
    assert again.status_code == 409 and again.json()["payment_id"] == str(payment.id), again.text
    assert await _payments_of(url, by_checkout) == 1
    assert await _state(url, by_checkout) == ("pending", payment.id, "pending")
