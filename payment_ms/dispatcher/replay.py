"""Replaying deliveries: used by the API (``POST /api/deliveries/.../replay``) and the operators' CLI.

A replay makes a delivery due now and wakes the dispatchers. It is one more attempt, not a new
schedule: if it fails the delivery is ``failed`` again (and can be replayed again). The attempts so far
are kept; ``webhook-id`` stays the event id, so a partner that did get it can deduplicate.
A delivery whose event payload the retention period purged cannot be sent again.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, text, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.models import Base
from shared.outbox import NOTIFY_CHANNEL
from shared.problems import ConflictError, InvalidInputError, NotFoundError

REPLAYABLE = ("failed", "canceled")
FINISHED = ("failed", "canceled", "succeeded")

_t = Base.metadata.tables["webhook_deliveries"]
_events = Base.metadata.tables["payment_events"]


def _payload_kept() -> Any:
    return select(_events.c.id).where(_events.c.id == _t.c.event_id, _events.c.purged_at.is_(None)).exists()


async def _wake_dispatchers(conn: AsyncConnection) -> None:
    await conn.execute(text("SELECT pg_notify(:channel, 'replay')"), {"channel": NOTIFY_CHANNEL})


def _make_due() -> dict[str, object]:
    return {
        "status": "pending",
        "due_at": func.now(),
        "held": None,
        "leased_by": None,
        "updated_at": func.now(),
    }


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
                        _payload_kept(),
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
            purged = await conn.scalar(
                select(_events.c.purged_at)
                .join(_t, _t.c.event_id == _events.c.id)
                .where(_t.c.id == delivery_id)
            )
            if purged is not None:
                raise ConflictError(
                    "the event's payload was purged (retention period): it cannot be sent again"
                )
            raise ConflictError("the delivery is being sent right now; try again when it finishes")
        await _wake_dispatchers(conn)
        return row


async def replay_partner_deliveries(
    engine: AsyncEngine,
    partner_id: uuid.UUID,
    since: datetime,
    until: datetime | None = None,
    *,
    include_all: bool = False,
) -> int:
    """Send again the failed and canceled deliveries of a partner created in ``[since, until)``
    (``until`` None: up to now); with ``include_all`` the succeeded ones too (a partner that lost its
    own data). Pending ones are left alone: they are on their way."""
    if until is not None and until <= since:
        raise InvalidInputError("until must be later than since")
    window = [_t.c.created_at >= since] + ([_t.c.created_at < until] if until is not None else [])
    async with engine.begin() as conn:
        result = await conn.execute(
            update(_t)
            .where(
                _t.c.partner_id == partner_id,
                _t.c.status.in_(FINISHED if include_all else REPLAYABLE),
                and_(*window),
                _payload_kept(),
            )
            .values(_make_due())
        )
        count = result.rowcount
        if count:
            await _wake_dispatchers(conn)
        return count
