"""Replaying deliveries: used by the API (``POST /api/deliveries/.../replay``) and the operators' CLI.

A replay makes a delivery due now and wakes the dispatchers. It is one more attempt, not a new
schedule: if it fails the delivery is ``failed`` again (and can be replayed again). The attempts so far
are kept; ``webhook-id`` stays the event id, so a partner that did get it can deduplicate.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, or_, select, text, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.models import Base
from shared.outbox import NOTIFY_CHANNEL
from shared.problems import ConflictError, NotFoundError

REPLAYABLE = ("failed", "canceled")

_t = Base.metadata.tables["webhook_deliveries"]


async def _wake_dispatchers(conn: AsyncConnection) -> None:
    await conn.execute(text("SELECT pg_notify(:channel, 'replay')"), {"channel": NOTIFY_CHANNEL})


def _make_due() -> dict[str, object]:
    return {"status": "pending", "due_at": func.now(), "leased_by": None, "updated_at": func.now()}


async def replay_delivery(engine: AsyncEngine, delivery_id: uuid.UUID) -> RowMapping:
    """Send one delivery again now, whatever its outcome so far; 409 while a worker holds it."""
    async with engine.begin() as conn:
        row = (
            (
                await conn.execute(
                    update(_t)
                    .where(
                        _t.c.id == delivery_id,
                        or_(_t.c.status != "pending", _t.c.leased_by.is_(None)),
                    )
                    .values(_make_due())
                    .returning(*_t.c)
                )
            )
            .mappings()
            .one_or_none()
        )
        if row is None:
            exists = await conn.scalar(select(_t.c.id).where(_t.c.id == delivery_id))
            if exists is None:
                raise NotFoundError(f"delivery {delivery_id} not found")
            raise ConflictError("the delivery is being sent right now; try again when it finishes")
        await _wake_dispatchers(conn)
        return row


async def replay_partner_deliveries(engine: AsyncEngine, partner_id: uuid.UUID, since: datetime) -> int:
    """Send again every failed (or canceled) delivery of a partner created at or after ``since``."""
    async with engine.begin() as conn:
        result = await conn.execute(
            update(_t)
            .where(_t.c.partner_id == partner_id, _t.c.status.in_(REPLAYABLE), _t.c.created_at >= since)
            .values(_make_due())
        )
        count = result.rowcount
        if count:
            await _wake_dispatchers(conn)
        return count
