"""Replaying deliveries: used by the API (``POST /api/deliveries/.../replay``) and the operators' CLI.

A replay makes a delivery due now and wakes the dispatchers. It is one more attempt, not a new
schedule: if it fails the delivery is ``failed`` again (and can be replayed again). The attempts so far
are kept; ``webhook-id`` stays the event id, so a partner that did get it can deduplicate.
A delivery whose event payload the retention period purged cannot be sent again.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncEngine

from payment_ms.deliveries import repositories as repo
from shared.outbox import wake_dispatchers
from shared.problems import ConflictError, NotFoundError


async def replay_delivery(engine: AsyncEngine, delivery_id: uuid.UUID) -> RowMapping:
    """Send one delivery again now, whatever its outcome so far; 409 while a worker holds it."""
    async with engine.begin() as conn:
        row = await repo.make_delivery_due(conn, delivery_id)
        if row is None:
            test = await repo.delivery_test_flag(conn, delivery_id)
            if test is None:
                raise NotFoundError(f"delivery {delivery_id} not found")
            if test:
                raise ConflictError("a test send is not sent again: send a new test event instead")
            if await repo.event_purged_at(conn, delivery_id) is not None:
                raise ConflictError(
                    "the event's payload was purged (retention period): it cannot be sent again"
                )
            raise ConflictError("the delivery is being sent right now; try again when it finishes")
        await wake_dispatchers(conn, "replay")
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
    own data). Pending ones are left alone: they are on their way. An ``until`` not after ``since`` is
    an empty window: nothing is replayed (0)."""
    async with engine.begin() as conn:
        count = await repo.make_partner_deliveries_due(
            conn, partner_id, since, until, include_all=include_all
        )
        if count:
            await wake_dispatchers(conn, "replay")
        return count
