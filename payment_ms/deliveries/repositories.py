"""Reading events, deliveries and attempts: newest first, keyset pagination on (created_at, id)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import String, Table, and_, func, select, text, tuple_
from sqlalchemy.dialects.postgresql import aggregate_order_by
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
    payment_id: uuid.UUID | None = None,
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
    if (
        payment_id is not None
    ):  # the payment's events (their index), then each one's deliveries (unique index)
        filters.append(
            deliveries.c.event_id.in_(select(events.c.id).where(events.c.payment_id == payment_id))
        )
    return await _page(
        conn, deliveries, filters, created_from=created_from, created_to=created_to, after=after, limit=limit
    )


async def get_event(conn: AsyncConnection, event_id: uuid.UUID) -> RowMapping | None:
    return (await conn.execute(select(events).where(events.c.id == event_id))).mappings().one_or_none()


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


_SUCCESS = and_(attempts.c.status_code >= 200, attempts.c.status_code < 300)


async def queue_depth(conn: AsyncConnection) -> RowMapping:
    """Pending deliveries, those due now and the oldest due one's age: the partial index on due_at."""
    query = text(
        "SELECT count(*) AS pending, count(*) FILTER (WHERE due_at <= now()) AS due,"
        " extract(epoch FROM now() - min(due_at) FILTER (WHERE due_at <= now()))::float AS oldest_due_seconds"
        " FROM webhook_deliveries WHERE status = 'pending'"
    )
    return (await conn.execute(query)).mappings().one()


async def attempts_per_minute(conn: AsyncConnection, since: datetime) -> Sequence[RowMapping]:
    minute = func.date_trunc("minute", attempts.c.started_at).label("minute")
    query = (
        select(
            minute,
            func.count().filter(_SUCCESS).label("succeeded"),
            func.count().filter(~_SUCCESS | attempts.c.status_code.is_(None)).label("failed"),
        )
        .where(attempts.c.started_at >= since)
        .group_by(minute)
        .order_by(minute)
    )
    return (await conn.execute(query)).mappings().all()


async def partner_health(
    conn: AsyncConnection, since: datetime, partner_ids: Sequence[uuid.UUID] | None
) -> Sequence[RowMapping]:
    """Per partner: attempts since ``since``, how many succeeded, p95 duration, the last failure."""
    failed = ~_SUCCESS | attempts.c.status_code.is_(None)
    failure_text = func.coalesce(attempts.c.error, func.concat("HTTP ", attempts.c.status_code.cast(String)))
    query = (
        select(
            deliveries.c.partner_id,
            func.count().label("attempts"),
            func.count().filter(_SUCCESS).label("succeeded"),
            func.percentile_disc(0.95).within_group(attempts.c.duration_ms).label("p95_ms"),
            func.max(attempts.c.started_at).filter(failed).label("last_failure_at"),
            func.array_agg(aggregate_order_by(failure_text, attempts.c.started_at.desc()))
            .filter(failed)[1]
            .label("last_failure"),
        )
        .select_from(attempts.join(deliveries, deliveries.c.id == attempts.c.delivery_id))
        .where(attempts.c.started_at >= since)
        .group_by(deliveries.c.partner_id)
    )
    if partner_ids is not None:
        query = query.where(deliveries.c.partner_id.in_(partner_ids))
    return (await conn.execute(query)).mappings().all()


async def event_feed(
    conn: AsyncConnection,
    *,
    types: Sequence[str],
    created_from: datetime | None,
    settled_before: datetime,
    after: Cursor | None,
    limit: int,
) -> Sequence[RowMapping]:
    """Oldest first on (created_at, id), only events older than ``settled_before`` (see the service)."""
    filters: list[Any] = [events.c.type.in_(types), events.c.created_at < settled_before]
    if created_from is not None:
        filters.append(events.c.created_at >= created_from)
    if after is not None:
        filters.append(tuple_(events.c.created_at, events.c.id) > tuple_(*after))
    query = (
        select(events.c.id, events.c.type, events.c.created_at, events.c.data)
        .where(*filters)
        .order_by(events.c.created_at, events.c.id)
        .limit(limit)
    )
    return (await conn.execute(query)).mappings().all()
