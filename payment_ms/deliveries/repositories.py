"""Reading events, deliveries and attempts: newest first, keyset pagination on (created_at, id)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, func, or_, select, tuple_, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.models import Base

events = Base.metadata.tables["payment_events"]
deliveries = Base.metadata.tables["webhook_deliveries"]
attempts = Base.metadata.tables["delivery_attempts"]

Cursor = tuple[datetime, uuid.UUID]


async def _page(
    conn: AsyncConnection,
    table: Table,
    filters: list[Any],
    *,
    created_from: datetime | None,
    created_to: datetime | None,
    after: Cursor | None,
    limit: int,
) -> Sequence[RowMapping]:
    if created_from is not None:
        filters.append(table.c.created_at >= created_from)
    if created_to is not None:
        filters.append(table.c.created_at < created_to)
    if after is not None:
        filters.append(tuple_(table.c.created_at, table.c.id) < tuple_(*after))
    query = select(table).where(*filters).order_by(table.c.created_at.desc(), table.c.id.desc()).limit(limit)
    return (await conn.execute(query)).mappings().all()


async def list_events(
    conn: AsyncConnection,
    *,
    payment_id: uuid.UUID | None,
    event_type: str | None,
    created_from: datetime | None,
    created_to: datetime | None,
    after: Cursor | None,
    limit: int,
) -> Sequence[RowMapping]:
    filters: list[Any] = []
    if payment_id is not None:
        filters.append(events.c.payment_id == payment_id)
    if event_type is not None:
        filters.append(events.c.type == event_type)
    return await _page(
        conn, events, filters, created_from=created_from, created_to=created_to, after=after, limit=limit
    )


async def list_deliveries(
    conn: AsyncConnection,
    *,
    status: str | None,
    partner_id: uuid.UUID | None,
    event_id: uuid.UUID | None,
    created_from: datetime | None,
    created_to: datetime | None,
    after: Cursor | None,
    limit: int,
) -> Sequence[RowMapping]:
    filters: list[Any] = []
    if status is not None:
        filters.append(deliveries.c.status == status)
    if partner_id is not None:
        filters.append(deliveries.c.partner_id == partner_id)
    if event_id is not None:
        filters.append(deliveries.c.event_id == event_id)
    return await _page(
        conn, deliveries, filters, created_from=created_from, created_to=created_to, after=after, limit=limit
    )


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


def _make_due() -> dict[str, object]:
    return {"status": "pending", "due_at": func.now(), "leased_by": None, "updated_at": func.now()}


async def make_delivery_due(conn: AsyncConnection, delivery_id: uuid.UUID) -> RowMapping | None:
    """Due now whatever its outcome so far; None when missing or leased by a worker right now."""
    result = await conn.execute(
        update(deliveries)
        .where(
            deliveries.c.id == delivery_id,
            or_(deliveries.c.status != "pending", deliveries.c.leased_by.is_(None)),
        )
        .values(_make_due())
        .returning(*deliveries.c)
    )
    return result.mappings().one_or_none()


async def delivery_exists(conn: AsyncConnection, delivery_id: uuid.UUID) -> bool:
    return await conn.scalar(select(deliveries.c.id).where(deliveries.c.id == delivery_id)) is not None


async def make_partner_deliveries_due(conn: AsyncConnection, partner_id: uuid.UUID, since: datetime) -> int:
    """Every failed (or canceled) delivery of a partner created at or after ``since``, due now."""
    result = await conn.execute(
        update(deliveries)
        .where(
            deliveries.c.partner_id == partner_id,
            deliveries.c.status.in_(REPLAYABLE),
            deliveries.c.created_at >= since,
        )
        .values(_make_due())
    )
    return result.rowcount
