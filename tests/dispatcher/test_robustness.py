"""The dispatcher's loops survive errors nobody planned for (a lost connection raises asyncpg's
InterfaceError, not a PostgresError), and shutdown hands every claim back even when the last write of
results fails. Faults are injected into one dispatcher's own steps; the database and HTTP stay real."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.dispatcher.conftest import Receiver, add_event, add_partner, fetch
from tests.fixtures.waiting import eventually


def fail_first(real: Callable[..., Any], error: BaseException, calls: dict[str, int]) -> Callable[..., Any]:
    async def step(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise error
        return await real(*args, **kwargs)

    return step


async def test_dispatch_and_record_loops_survive_unexpected_errors(
    db_engine: AsyncEngine,
    receiver: Receiver,
    dispatch: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    await add_partner(db_engine, receiver.url("steady"))
    caplog.set_level(logging.ERROR, logger="paygate.dispatcher")
    claims: dict[str, int] = {"n": 0}
    writes: dict[str, int] = {"n": 0}
    async with dispatch() as dispatcher:
        dispatcher.claim_once = fail_first(
            dispatcher.claim_once, asyncpg.InterfaceError("connection is closed"), claims
        )
        recorder = dispatcher.recorder
        recorder.write = fail_first(recorder.write, RuntimeError("injected"), writes)
        _, event_id = await add_event(db_engine)
        (got,) = await receiver.wait_count("steady", 1)

        async def recorded() -> list[dict[str, Any]]:
            return await fetch(
                db_engine,
                "SELECT d.status, a.status_code FROM webhook_deliveries d"
                " JOIN delivery_attempts a ON a.delivery_id = d.id WHERE d.status = 'succeeded'",
            )

        # Recorded while the dispatcher runs: the record loop outlived its failure (shutdown also
        # flushes, so this is checked before leaving the block).
        assert await eventually(recorded, what="the result recorded") == [
            {"status": "succeeded", "status_code": 200}
        ]
    assert got.msg_id == str(event_id)
    assert claims["n"] >= 2 and writes["n"] >= 2
    logged = {r.getMessage() for r in caplog.records if r.exc_info}
    assert "unexpected error in the dispatch loop; retrying" in logged
    assert "unexpected error recording delivery results; retrying" in logged


async def test_shutdown_hands_claims_back_even_when_the_last_results_cannot_be_written(
    db_engine: AsyncEngine, receiver: Receiver, dispatch: Callable[..., Any]
) -> None:
    async def broken(*_: Any) -> None:
        raise asyncpg.InterfaceError("connection is closed")

    hold = receiver.hold("slow")
    await add_partner(db_engine, receiver.url("slow"))
    with ExitStack() as stack:
        stack.callback(hold.set)
        async with dispatch(per_partner_concurrency=1, lease_seconds=60.0) as dispatcher:
            for _ in range(2):
                await add_event(db_engine)
            await receiver.wait_count("slow", 1)

            async def both_leased() -> bool:
                rows = await fetch(db_engine, "SELECT leased_by FROM webhook_deliveries")
                return len(rows) == 2 and all(r["leased_by"] for r in rows)

            await eventually(both_leased, what="one delivery in flight, one queued")
            dispatcher.recorder.flush = broken
            hold.set()
    rows = await fetch(db_engine, "SELECT status, leased_by, due_at <= now() AS due FROM webhook_deliveries")
    # The answered delivery could not be recorded: it is handed back too and will be sent again.
    assert rows == [{"status": "pending", "leased_by": None, "due": True}] * 2
