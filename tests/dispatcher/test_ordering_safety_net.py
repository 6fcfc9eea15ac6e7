"""Ordered delivery's safety net (the maintenance pass): a waiting delivery whose earlier events are all
finished is made due, and no other."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from payment_ms.dispatcher import repositories as repo
from shared.db import asyncpg_dsn
from tests.dispatcher.conftest import add_event, fetch


async def test_the_safety_net_releases_exactly_the_waiting_deliveries_nothing_earlier_holds_back(
    db_engine: AsyncEngine, database_url: str
) -> None:
    """The maintenance pass's ordering check (a fan-out that raced with its predecessor's release): a
    waiting delivery is made due when no earlier event of its payment is pending for its partner."""
    partner, other = uuid.uuid4(), uuid.uuid4()
    payment_a, a1 = await add_event(db_engine, "payment.created")
    _, a2 = await add_event(db_engine, "payment.processing", payment_a)
    _, a3 = await add_event(db_engine, "payment.succeeded", payment_a)
    payment_b, b1 = await add_event(db_engine, "payment.created")
    _, b2 = await add_event(db_engine, "payment.succeeded", payment_b)
    rows = [  # (event, partner, status, held)
        (a1, partner, "succeeded", None),
        (a2, partner, "pending", "ordering"),  # its predecessor is done: released
        (a3, partner, "pending", "ordering"),  # a2 is still pending: waits
        (b1, partner, "pending", "disabled"),  # pending (its partner was disabled): b2 waits
        (b2, partner, "pending", "ordering"),
        (b1, other, "failed", None),
        (b2, other, "pending", "ordering"),  # another partner: its own predecessor is finished
    ]
    now = datetime.now(UTC)
    async with db_engine.begin() as conn:
        for event_id, partner_id, status, held in rows:
            await conn.execute(
                text(
                    "INSERT INTO webhook_deliveries (event_id, partner_id, url, status, held, due_at) "
                    "VALUES (:e, :p, 'https://example.test/hook', :s, :h, :due)"
                ),
                {
                    "e": event_id,
                    "p": partner_id,
                    "s": status,
                    "h": held,
                    "due": repo.HELD_UNTIL if held else now,
                },
            )
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        assert await repo.release_unblocked(conn, 10) == 2
        assert await repo.release_unblocked(conn, 10) == 0
    finally:
        await conn.close()
    found = await fetch(db_engine, "SELECT event_id, partner_id, held FROM webhook_deliveries")
    waiting = {(r["event_id"], r["partner_id"]) for r in found if r["held"] == "ordering"}
    assert waiting == {(a3, partner), (b2, partner)}


async def test_a_fan_out_racing_its_predecessors_release_leaves_nothing_to_the_safety_net(
    db_engine: AsyncEngine, database_url: str
) -> None:
    """The interleaving the safety net used to catch (a successor waited up to a maintenance interval):
    the fan-out inserts e2's delivery while e1's is pending, e1's outcome and its release run before
    that insert is committed (so the release cannot see it), then the insert commits. The fan-out's
    own check after its commit makes it due."""
    partner = uuid.uuid4()
    payment, e1 = await add_event(db_engine, "payment.created")
    _, e2 = await add_event(db_engine, "payment.succeeded", payment)
    async with db_engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO webhook_deliveries (event_id, partner_id, url) VALUES (:e, :p, 'https://example.test/h')"
            ),
            {"e": e1, "p": partner},
        )
    [first] = await fetch(db_engine, "SELECT id FROM webhook_deliveries WHERE event_id = :e", e=e1)
    [sequence] = await fetch(db_engine, "SELECT sequence FROM payment_events WHERE id = :e", e=e2)
    fanning = await asyncpg.connect(asyncpg_dsn(database_url))
    recording = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        async with fanning.transaction():
            waiting = await repo.insert_ordered_deliveries(
                fanning, [(e2, partner, "https://example.test/h", payment, sequence["sequence"])]
            )
            assert len(waiting) == 1  # e1 is pending: e2 waits
            await recording.execute(
                "UPDATE webhook_deliveries SET status = 'succeeded' WHERE id = $1", first["id"]
            )
            await repo.release_next_in_order(recording, [first["id"]])  # e2's row is not visible yet
        held = await fetch(db_engine, "SELECT held FROM webhook_deliveries WHERE event_id = :e", e=e2)
        assert held == [{"held": "ordering"}]  # what the race left behind before the check below
        await repo.release_if_unblocked(fanning, waiting)
    finally:
        await fanning.close()
        await recording.close()
    [second] = await fetch(
        db_engine,
        "SELECT held, status, due_at <= now() AS due FROM webhook_deliveries WHERE event_id = :e",
        e=e2,
    )
    assert second == {"held": None, "status": "pending", "due": True}


async def test_the_check_after_the_fan_out_leaves_a_successor_of_a_pending_delivery_waiting(
    db_engine: AsyncEngine, database_url: str
) -> None:
    """The same check does not release what must still wait: e1 is still pending after the commit."""
    partner = uuid.uuid4()
    payment, e1 = await add_event(db_engine, "payment.created")
    _, e2 = await add_event(db_engine, "payment.succeeded", payment)
    [sequence] = await fetch(db_engine, "SELECT sequence FROM payment_events WHERE id = :e", e=e2)
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        async with conn.transaction():
            rows = [(e1, partner, "https://example.test/h", payment, sequence["sequence"] - 1)]
            rows.append((e2, partner, "https://example.test/h", payment, sequence["sequence"]))
            waiting = await repo.insert_ordered_deliveries(conn, rows)
        await repo.release_if_unblocked(conn, waiting)
    finally:
        await conn.close()
    found = await fetch(
        db_engine, "SELECT event_id, held FROM webhook_deliveries WHERE partner_id = :p", p=partner
    )
    assert {r["event_id"]: r["held"] for r in found} == {e1: None, e2: "ordering"}
