"""Events, deliveries and attempts: lists newest first (``payment_ms.pagination``), replays."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from payment_ms.pagination import Cursor, keyset_page, matching
from shared.models import Base
from shared.queries import DeliveryFilter, EventFilter

events = Base.metadata.tables["payment_events"]
deliveries = Base.metadata.tables["webhook_deliveries"]
attempts = Base.metadata.tables["delivery_attempts"]


async def list_events(
    conn: AsyncConnection, after: Cursor | None, limit: int, *, filters: EventFilter
) -> Sequence[RowMapping]:
    where = matching(events, payment_id=filters.payment_id, type=filters.event_type)
    return await keyset_page(conn, events, where, filters, after=after, limit=limit)


async def list_deliveries(
    conn: AsyncConnection, after: Cursor | None, limit: int, *, filters: DeliveryFilter
) -> Sequence[RowMapping]:
    where = matching(
        deliveries, status=filters.status, partner_id=filters.partner_id, event_id=filters.event_id
    )
    return await keyset_page(conn, deliveries, where, filters, after=after, limit=limit)


async def get_delivery(conn: AsyncConnection, delivery_id: uuid.UUID) -> RowMapping | None:
    query = (
        select(deliveries, events.c.type.label("event_type"))
        .join(events, events.c.id == deliveries.c.event_id)
        .where(deliveries.c.id == delivery_id)
    )
    return (await conn.execute(query)).mappings().one_or_none()


async def list_attempts(conn: AsyncConnection, delivery_id: uuid.UUID) -> Sequence[RowMapping]:
    query = select(attempts).where(attempts.c.delivery_id == delivery_id).order_by(attempts.c.attempt_number)
    return (await conn.execute(query)).mappings().all()


# ------------------------------------------------------------------------------------------ replays

REPLAYABLE = ("failed", "canceled")
FINISHED = ("failed", "canceled", "succeeded")


def _payload_kept() -> Any:
    return (
        select(events.c.id).where(events.c.id == deliveries.c.event_id, events.c.purged_at.is_(None)).exists()
    )


def _make_due() -> dict[str, object]:
    return {
        "status": "pending",
        "due_at": func.now(),
        "held": None,
        "leased_by": None,
        "updated_at": func.now(),
    }


async def make_delivery_due(conn: AsyncConnection, delivery_id: uuid.UUID) -> RowMapping | None:
    """Due now whatever its outcome so far; None when missing, leased by a worker right now, or its
    event's payload was purged."""
    result = await conn.execute(
        update(deliveries)
        .where(
            deliveries.c.id == delivery_id,
            or_(deliveries.c.status != "pending", deliveries.c.leased_by.is_(None)),
            _payload_kept(),
        )
        .values(_make_due())
        .returning(*deliveries.c)
    )
    return result.mappings().one_or_none()


async def delivery_exists(conn: AsyncConnection, delivery_id: uuid.UUID) -> bool:
    return await conn.scalar(select(deliveries.c.id).where(deliveries.c.id == delivery_id)) is not None


async def event_purged_at(conn: AsyncConnection, delivery_id: uuid.UUID) -> datetime | None:
    """When the retention period purged the payload of the delivery's event (None: it is kept)."""
    purged: datetime | None = await conn.scalar(
        select(events.c.purged_at)
        .join(deliveries, deliveries.c.event_id == events.c.id)
        .where(deliveries.c.id == delivery_id)
    )
    return purged


async def make_partner_deliveries_due(
    conn: AsyncConnection,
    partner_id: uuid.UUID,
    since: datetime,
    until: datetime | None,
    *,
    include_all: bool,
) -> int:
    """A partner's failed and canceled (``include_all``: and succeeded) deliveries created in
    ``[since, until)``, due now; how many."""
    window = [deliveries.c.created_at >= since]
    if until is not None:
        window.append(deliveries.c.created_at < until)
    result = await conn.execute(
        update(deliveries)
        .where(
            deliveries.c.partner_id == partner_id,
            deliveries.c.status.in_(FINISHED if include_all else REPLAYABLE),
            *window,
            _payload_kept(),
        )
        .values(_make_due())
    )
    return result.rowcount
