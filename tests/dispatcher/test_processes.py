"""Dispatchers as real processes (``python -m payment_ms.dispatcher``): SIGKILL mid-delivery loses
nothing, two of them never send one delivery twice, SIGTERM hands back what it holds, /metrics."""

from __future__ import annotations

import asyncio
import json
import signal
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from paygate.processes import ManagedProcess, dispatcher_command
from shared.embedded_pg import free_port
from tests.dispatcher.conftest import (
    TEST_DISPATCHER_DEFAULTS,
    Receiver,
    add_event,
    add_partner,
    fetch,
)
from tests.fixtures.services import RunningService, service_env
from tests.fixtures.waiting import eventually


@contextmanager
def dispatcher_process(
    database_url: str, gateway_url: str, log_dir: Path, **overrides: Any
) -> Iterator[tuple[ManagedProcess, str]]:
    """Started, not yet known healthy: call ``await healthy(proc)`` (the test loop must keep running)."""
    port = free_port()
    values = {**TEST_DISPATCHER_DEFAULTS, **overrides, "gateway_url": gateway_url, "metrics_port": port}
    env = service_env(
        database_url,
        PAYGATE_LOG_LEVEL="INFO",
        **{
            f"DISPATCHER_{key.upper()}": json.dumps(value) if isinstance(value, list) else str(value)
            for key, value in values.items()
        },
    )
    metrics_url = f"http://127.0.0.1:{port}/metrics"
    proc = ManagedProcess(
        "dispatcher", dispatcher_command(), env, metrics_url, log_dir / f"dispatcher-{port}.log"
    )
    proc.start()
    try:
        yield proc, metrics_url
    finally:
        proc.stop()


async def healthy(proc: ManagedProcess) -> None:
    await asyncio.to_thread(proc.wait_healthy, 20.0)


async def exited(proc: ManagedProcess, timeout: float = 20.0) -> int:
    assert proc.process is not None
    return await asyncio.to_thread(proc.process.wait, timeout)


async def delivery_statuses(engine: AsyncEngine) -> list[dict[str, Any]]:
    return await fetch(engine, "SELECT id, status, leased_by, due_at <= now() AS due FROM webhook_deliveries")


async def test_sigkill_mid_delivery_loses_nothing(
    db_engine: AsyncEngine, database_url: str, gateway: RunningService, log_dir: Path, receiver: Receiver
) -> None:
    hold = receiver.hold("stall")  # the first worker gets no answer before it dies; the second at once
    await add_partner(db_engine, receiver.url("stall"))
    settings = {"lease_seconds": 2.5, "request_timeout_seconds": 1.2}
    with dispatcher_process(database_url, gateway.internal_url, log_dir, **settings) as (first, _):
        await healthy(first)
        event_ids = {str((await add_event(db_engine))[1]) for _ in range(5)}
        await receiver.wait_count("stall", 5)
        first.signal(signal.SIGKILL)
        await exited(first)
    leased = await delivery_statuses(db_engine)
    assert len(leased) == 5 and all(r["status"] == "pending" and r["leased_by"] for r in leased)

    hold.set()
    with dispatcher_process(database_url, gateway.internal_url, log_dir, **settings) as (second, _):
        await healthy(second)

        async def all_delivered() -> bool:
            rows = await delivery_statuses(db_engine)
            return {r["status"] for r in rows} == {"succeeded"}

        await eventually(all_delivered, timeout=15, what="every delivery succeeded after the lease ran out")
    receipts = Counter(r.msg_id for r in receiver.at("stall"))
    assert set(receipts) == event_ids and all(count == 2 for count in receipts.values())
    attempts = await fetch(db_engine, "SELECT attempt_number, status_code FROM delivery_attempts")
    assert sorted((a["attempt_number"], a["status_code"]) for a in attempts) == [(1, 200)] * 5


async def test_two_dispatchers_share_the_work_and_never_send_twice(
    db_engine: AsyncEngine, database_url: str, gateway: RunningService, log_dir: Path, receiver: Receiver
) -> None:
    await add_partner(db_engine, receiver.url("one"))
    await add_partner(db_engine, receiver.url("two"))
    with (
        dispatcher_process(database_url, gateway.internal_url, log_dir, batch_size=20) as (a, metrics_a),
        dispatcher_process(database_url, gateway.internal_url, log_dir, batch_size=20) as (b, metrics_b),
    ):
        await asyncio.gather(healthy(a), healthy(b))
        for _ in range(150):
            await add_event(db_engine)
        await receiver.wait_count("one", 150, timeout=20)
        await receiver.wait_count("two", 150, timeout=20)

        async def settled() -> bool:
            rows = await delivery_statuses(db_engine)
            return len(rows) == 300 and {r["status"] for r in rows} == {"succeeded"}

        await eventually(settled, what="300 succeeded deliveries")
        async with httpx.AsyncClient() as client:
            scraped = [(await client.get(url)).text for url in (metrics_a, metrics_b)]

    for name in ("one", "two"):
        receipts = Counter(r.msg_id for r in receiver.at(name))
        assert len(receipts) == 150 and set(receipts.values()) == {1}, receipts.most_common(3)
    workers = await fetch(db_engine, "SELECT worker, count(*) AS n FROM delivery_attempts GROUP BY worker")
    assert len(workers) == 2 and sum(w["n"] for w in workers) == 300
    succeeded = 0.0
    for text in scraped:
        assert "paygate_webhook_attempt_seconds_bucket" in text and "paygate_webhook_queue_depth" in text
        for line in text.splitlines():
            if line.startswith('paygate_webhook_deliveries_total{outcome="succeeded"}'):
                succeeded += float(line.split()[-1])
    assert succeeded == 300


async def test_sigterm_finishes_in_flight_and_hands_back_the_rest(
    db_engine: AsyncEngine, database_url: str, gateway: RunningService, log_dir: Path, receiver: Receiver
) -> None:
    hold = receiver.hold("slow")
    await add_partner(db_engine, receiver.url("slow"))
    settings = {"per_partner_concurrency": 1, "lease_seconds": 60.0, "request_timeout_seconds": 20.0}
    with (
        ExitStack() as stack,
        dispatcher_process(database_url, gateway.internal_url, log_dir, **settings) as (proc, _),
    ):
        await healthy(proc)
        stack.callback(hold.set)  # never leave the receiver hanging, even when an assertion fails
        for _ in range(3):
            await add_event(db_engine)
        (first,) = await receiver.wait_count("slow", 1)

        async def all_fanned_out_and_queued() -> bool:
            rows = await delivery_statuses(db_engine)
            return len(rows) == 3 and sum(1 for r in rows if r["leased_by"]) >= 2

        # All three events are deliveries before the signal (else the third would never become one):
        # one in flight, the others leased and queued behind it (or, beyond the backlog, not claimed).
        await eventually(all_fanned_out_and_queued, what="three deliveries, one in flight, more leased")
        proc.signal(signal.SIGTERM)

        async def queued_ones_released() -> bool:
            rows = await delivery_statuses(db_engine)
            return sum(1 for r in rows if r["leased_by"]) == 1

        await eventually(queued_ones_released, what="the queued deliveries handed back on SIGTERM")
        hold.set()
        assert await exited(proc) == 0

    rows = await fetch(
        db_engine,
        "SELECT d.status, d.leased_by, d.due_at <= now() AS due, e.id::text AS event_id"
        " FROM webhook_deliveries d JOIN payment_events e ON e.id = d.event_id",
    )
    assert all(r["leased_by"] is None for r in rows)
    assert sorted(r["status"] for r in rows) == ["pending", "pending", "succeeded"]
    assert all(r["due"] for r in rows if r["status"] == "pending")
    [done] = [r for r in rows if r["status"] == "succeeded"]
    assert done["event_id"] == first.msg_id and len(receiver.at("slow")) == 1
