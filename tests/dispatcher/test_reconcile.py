"""A payment stuck in pending past the configured age is re-verified with the provider: it settles,
its event goes out through the outbox, and a subscribed partner hears about it."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine

from payment_ms.dispatcher.reconcile import RECONCILE_LOCK, Reconciler, reconcile_loop
from payment_ms.providers.mock import APPROVED, DECLINED
from payment_ms.settings import PaymentSettings
from shared.db import asyncpg_dsn
from shared.models import IdempotencyKey
from tests.dispatcher.conftest import Receiver, add_partner, dispatcher_settings, fetch, insert_payment
from tests.fixtures.waiting import eventually


async def add_approved_payment(
    engine: AsyncEngine, age_seconds: int, *, status: str = "pending", provider_status: str = APPROVED
) -> uuid.UUID:
    """The mock payer answered on the hosted page, but nobody called verify and no webhook came."""
    async with engine.begin() as conn:
        row = await insert_payment(
            conn,
            amount=120000,
            currency="JPY",
            description="",
            provider_session_id=f"mock_cs_{uuid.uuid4().hex}",
            provider_status=provider_status,
            status=status,
        )
        payment_id = row["id"]
        await conn.execute(
            text(
                "UPDATE payments SET created_at = created_at - make_interval(secs => :age),"
                " updated_at = updated_at - make_interval(secs => :age) WHERE id = :id"
            ),
            {"age": age_seconds, "id": payment_id},
        )
    assert payment_id is not None
    return payment_id


async def test_stuck_payment_is_verified_and_its_event_delivered(
    db_engine: AsyncEngine, receiver: Receiver, dispatch: Callable[..., Any]
) -> None:
    await add_partner(db_engine, receiver.url("listener"), ("payment.succeeded",))
    stuck = await add_approved_payment(db_engine, age_seconds=3600)
    recent = await add_approved_payment(db_engine, age_seconds=0)

    async with dispatch(reconcile_interval_seconds=0.2, reconcile_after_seconds=600):
        (got,) = await receiver.wait_count("listener", 1)

        async def settled() -> list[dict[str, Any]]:
            rows = await fetch(db_engine, "SELECT status FROM payments WHERE id = :id", id=stuck)
            return rows if rows[0]["status"] == "succeeded" else []

        await eventually(settled, what="the stuck payment settled")

    body = json.loads(got.body)
    assert body["type"] == "payment.succeeded" and body["data"]["id"] == str(stuck)
    [fresh] = await fetch(db_engine, "SELECT status FROM payments WHERE id = :id", id=recent)
    assert fresh["status"] == "pending"
    events = await fetch(db_engine, "SELECT payment_id, type, source FROM payment_events")
    assert events == [{"payment_id": stuck, "type": "payment.succeeded", "source": "reconciliation"}]


async def test_a_processing_payment_and_a_declined_one_are_settled(
    db_engine: AsyncEngine, receiver: Receiver, dispatch: Callable[..., Any]
) -> None:
    await add_partner(db_engine, receiver.url("both"), ("payment.succeeded", "payment.failed"))
    processing = await add_approved_payment(db_engine, age_seconds=3600, status="processing")
    declined = await add_approved_payment(db_engine, age_seconds=3600, provider_status=DECLINED)

    async with dispatch(reconcile_interval_seconds=0.2, reconcile_after_seconds=600):
        got = await receiver.wait_count("both", 2)

    bodies = sorted((json.loads(r.body) for r in got), key=lambda b: b["type"])
    assert [(b["type"], b["data"]["id"]) for b in bodies] == [
        ("payment.failed", str(declined)),
        ("payment.succeeded", str(processing)),
    ]
    rows = await fetch(db_engine, "SELECT id, status, failure_reason FROM payments")
    by_id = {r["id"]: r for r in rows}
    assert by_id[processing]["status"] == "succeeded"
    assert by_id[declined]["status"] == "failed" and "declined" in by_id[declined]["failure_reason"]


async def test_one_reconciler_at_a_time_for_the_whole_pass(db_engine: AsyncEngine, database_url: str) -> None:
    stuck = await add_approved_payment(db_engine, age_seconds=3600)
    settings = dispatcher_settings("http://127.0.0.1:1", reconcile_after_seconds=600)
    lock_free_during_verify: list[bool] = []

    async def try_lock() -> bool:
        async with db_engine.connect() as conn:
            got = bool(await conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": RECONCILE_LOCK}))
            if got:
                await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": RECONCILE_LOCK})
            return got

    async def verify(payment_id: uuid.UUID) -> None:
        assert payment_id == stuck
        lock_free_during_verify.append(await try_lock())

    first = Reconciler(settings, asyncpg_dsn(database_url))
    assert await first.run_once(verify) == 1
    assert lock_free_during_verify == [False], "another dispatcher could reconcile meanwhile"
    assert await try_lock(), "the lock is released after the pass"

    # While another session holds the lock, a pass does nothing.
    async with db_engine.connect() as holder:
        await holder.execute(text("SELECT pg_advisory_lock(:k)"), {"k": RECONCILE_LOCK})
        second = Reconciler(settings, asyncpg_dsn(database_url))
        assert await second.run_once(verify) == 0
        await holder.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": RECONCILE_LOCK})
    assert lock_free_during_verify == [False]


async def test_the_reconcile_loop_stops_at_once_when_told(db_engine: AsyncEngine, database_url: str) -> None:
    await add_idempotency_key(db_engine, "old", age_hours=48)
    settings = dispatcher_settings("http://127.0.0.1:1", reconcile_interval_seconds=600)
    stop = asyncio.Event()
    task = asyncio.create_task(reconcile_loop(settings, PaymentSettings(), asyncpg_dsn(database_url), stop))
    try:
        # The first pass starts by purging: once the key is gone the loop is in (or near) its long wait.
        async def first_pass() -> bool:
            return not await fetch(db_engine, "SELECT key FROM idempotency_keys")

        await eventually(first_pass, what="the first pass ran")
        stop.set()
        await asyncio.wait_for(task, 10)  # a deadline far below the 600 s interval
    finally:
        task.cancel()
    assert task.exception() is None


async def add_idempotency_key(
    engine: AsyncEngine, key: str, *, age_hours: int, state: str = "completed"
) -> None:
    done = state == "completed"
    async with engine.begin() as conn:
        await conn.execute(
            insert(IdempotencyKey).values(
                scope="user:purge-test",
                key=key,
                request_fingerprint="f" * 64,
                state=state,
                response_status=201 if done else None,
                response_body=b"{}" if done else None,
                created_at=text(f"now() - interval '{age_hours} hours'"),
            )
        )


async def test_expired_idempotency_keys_are_purged_by_the_reconcile_pass(
    db_engine: AsyncEngine, dispatch: Callable[..., Any]
) -> None:
    await add_idempotency_key(db_engine, "old", age_hours=48)
    await add_idempotency_key(db_engine, "fresh", age_hours=1)
    await add_idempotency_key(db_engine, "stuck", age_hours=48, state="in_flight")

    async def purged() -> list[str]:
        rows = await fetch(db_engine, "SELECT key FROM idempotency_keys ORDER BY key")
        keys = [r["key"] for r in rows]
        return keys if "old" not in keys else []

    async with dispatch(reconcile_interval_seconds=0.2):
        keys = await eventually(purged, what="the expired completed key deleted")
    assert keys == ["fresh", "stuck"]
