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
