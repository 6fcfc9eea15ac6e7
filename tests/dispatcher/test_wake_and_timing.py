"""LISTEN/NOTIFY wakes the dispatcher (the poll is only a fallback), a partner that times out is retried,
the oldest-due-age gauge reflects the queue, and the partner list is cached for its TTL only."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

from aiohttp import web
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.dispatcher.conftest import Received, Receiver, add_event, add_partner, fetch
from tests.fixtures.waiting import eventually

LONG_POLL = 30.0


async def succeeded_count(engine: AsyncEngine) -> int:
    rows = await fetch(engine, "SELECT count(*) AS n FROM webhook_deliveries WHERE status = 'succeeded'")
    return int(rows[0]["n"])


async def test_a_committed_event_wakes_the_dispatcher_long_before_its_poll(
    db_engine: AsyncEngine, receiver: Receiver, dispatch: Callable[..., Any]
) -> None:
    await add_partner(db_engine, receiver.url("woken"))
    async with dispatch(poll_interval_seconds=LONG_POLL, stats_interval_seconds=LONG_POLL):
        await add_event(db_engine)
        await receiver.wait_count("woken", 1)
        await eventually(lambda: succeeded_count(db_engine), what="the first delivery recorded")
        # The dispatcher is now idle, waiting up to LONG_POLL: only the notification can wake it in time.
        _, event_id = await add_event(db_engine)
        second = (await receiver.wait_count("woken", 2, timeout=LONG_POLL / 3))[1]
    assert second.msg_id == str(event_id)


async def test_a_partner_that_times_out_is_retried(
    db_engine: AsyncEngine, receiver: Receiver, dispatch: Callable[..., Any]
) -> None:
    hold = asyncio.Event()
    calls: list[Received] = []

    async def hang_once(got: Received) -> web.StreamResponse:
        calls.append(got)
        if len(calls) == 1:
            await hold.wait()
        return web.Response(status=200, text="ok")

    receiver.behaviours["sleepy"] = hang_once
    await add_partner(db_engine, receiver.url("sleepy"))
    with ExitStack() as stack:
        stack.callback(hold.set)
        async with dispatch(request_timeout_seconds=0.5, retry_schedule_seconds=[0.2]):
            await add_event(db_engine)
            await eventually(lambda: succeeded_count(db_engine), what="the retry succeeded")
    attempts = await fetch(
        db_engine, "SELECT attempt_number, status_code, error FROM delivery_attempts ORDER BY attempt_number"
    )
    assert attempts == [
        {"attempt_number": 1, "status_code": None, "error": "timeout"},
        {"attempt_number": 2, "status_code": 200, "error": None},
    ]
    assert len(calls) == 2 and calls[0].msg_id == calls[1].msg_id


async def test_the_oldest_due_age_gauge_follows_the_queue(
    db_engine: AsyncEngine, receiver: Receiver, dispatch: Callable[..., Any]
) -> None:
    hold = receiver.hold("stuck")
    await add_partner(db_engine, receiver.url("stuck"))
    settings = {"per_partner_concurrency": 1, "batch_size": 1, "request_timeout_seconds": 30.0}
    with ExitStack() as stack:
        stack.callback(hold.set)
        async with dispatch(lease_seconds=60.0, stats_interval_seconds=0.1, **settings):
            for _ in range(3):
                await add_event(db_engine)

            async def one_waiting() -> list[dict[str, Any]]:
                rows = await fetch(db_engine, "SELECT id, leased_by FROM webhook_deliveries")
                unclaimed = [r for r in rows if r["leased_by"] is None]
                return unclaimed if len(rows) == 3 and len(unclaimed) == 1 else []

            # Backlog of two (one on the wire, one queued): the third waits in the database. It is
            # made to have waited an hour.
            [waiting] = await eventually(one_waiting, what="two deliveries held, one waiting")
            async with db_engine.begin() as conn:
                await conn.exec_driver_sql(
                    "UPDATE webhook_deliveries SET due_at = now() - interval '1 hour' WHERE id = $1",
                    (waiting["id"],),
                )

            async def gauges() -> tuple[float, float] | None:
                age = REGISTRY.get_sample_value("paygate_webhook_oldest_due_age_seconds")
                depth = REGISTRY.get_sample_value("paygate_webhook_queue_depth")
                return (age, depth) if age is not None and age >= 3600 and depth == 1 else None

            age, _ = await eventually(gauges, what="the gauges show the hour-old delivery")
            assert age < 3600 + 60
            hold.set()

            async def drained() -> bool:
                return await succeeded_count(db_engine) == 3

            await eventually(drained, what="all three delivered")

            async def age_back_to_zero() -> bool:
                return REGISTRY.get_sample_value("paygate_webhook_oldest_due_age_seconds") == 0

            await eventually(age_back_to_zero, what="nothing due: age 0")


async def test_the_partner_list_is_cached_for_its_ttl_only(
    db_engine: AsyncEngine, receiver: Receiver, dispatch: Callable[..., Any]
) -> None:
    ttl = 3.0
    await add_partner(db_engine, receiver.url("early"))
    async with dispatch(partner_cache_ttl_seconds=ttl):
        _, first = await add_event(db_engine)
        await receiver.wait_count("early", 1)
        filled = time.monotonic()  # the list was fetched for this fan-out, before this moment
        await add_partner(db_engine, receiver.url("late"))
        _, second = await add_event(db_engine)
        await receiver.wait_count("early", 2)
        fanned = await fetch(
            db_engine,
            "SELECT extract(epoch FROM max(fanned_out_at) - min(fanned_out_at))::float8 AS gap"
            " FROM payment_events",
        )
        assert fanned[0]["gap"] < ttl, "precondition: the second event was fanned out within the TTL"
        # The cached list did not know the new partner yet.
        assert await fetch(db_engine, "SELECT event_id FROM webhook_deliveries WHERE url LIKE '%/late'") == []

        async def ttl_over() -> bool:
            return time.monotonic() > filled + ttl

        await eventually(ttl_over, timeout=ttl + 5, what="the TTL passed")
        _, third = await add_event(db_engine)
        (late,) = await receiver.wait_count("late", 1)
    assert late.msg_id == str(third)
    assert {r.msg_id for r in receiver.at("early")} == {str(first), str(second), str(third)}
