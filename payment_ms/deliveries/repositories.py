"""Events, deliveries and attempts: lists newest first (``payment_ms.pagination``), replays."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, or_, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from payment_ms.pagination import Cursor, keyset_page, matching
from shared.contracts import SendTestEventResult
from shared.models import LATENCY_BOUNDS_MS, Base
from shared.queries import DeliveryFilter, EventFilter

events = Base.metadata.tables["payment_events"]
deliveries = Base.metadata.tables["webhook_deliveries"]
attempts = Base.metadata.tables["delivery_attempts"]
rollups = Base.metadata.tables["delivery_rollups"]


async def list_events(
    conn: AsyncConnection, after: Cursor | None, limit: int, *, filters: EventFilter
) -> Sequence[RowMapping]:
    where = matching(events, payment_id=filters.payment_id, type=filters.event_type)
    where.append(events.c.payment_id.is_not(None))  # a test send's event is no payment's
    return await keyset_page(conn, events, where, filters, after=after, limit=limit)


async def list_deliveries(
    conn: AsyncConnection, after: Cursor | None, limit: int, *, filters: DeliveryFilter
) -> Sequence[RowMapping]:
    where = matching(
        deliveries, status=filters.status, partner_id=filters.partner_id, event_id=filters.event_id
    )
    if filters.payment_id is not None:  # the payment's events (their index), then each one's deliveries
        where.append(
            deliveries.c.event_id.in_(select(events.c.id).where(events.c.payment_id == filters.payment_id))
        )
    return await keyset_page(conn, deliveries, where, filters, after=after, limit=limit)


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


# ------------------------------------------------------------------------------------------ replays

REPLAYABLE = ("failed", "canceled")
FINISHED = ("failed", "canceled", "succeeded")


def _payload_kept() -> Any:
    return (
        select(events.c.id).where(events.c.id == deliveries.c.event_id, events.c.purged_at.is_(None)).exists()
    )


_NOT_A_TEST = deliveries.c.test.is_(False)  # a test send is never sent again


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
            _NOT_A_TEST,
            _payload_kept(),
        )
        .values(_make_due())
        .returning(*deliveries.c)
    )
    return result.mappings().one_or_none()


async def delivery_test_flag(conn: AsyncConnection, delivery_id: uuid.UUID) -> bool | None:
    """Whether the delivery is a test send's; None when there is no such delivery."""
    flag: bool | None = await conn.scalar(select(deliveries.c.test).where(deliveries.c.id == delivery_id))
    return flag


async def record_test_send(
    conn: AsyncConnection,
    *,
    event_id: uuid.UUID,
    data: dict[str, Any],
    request_id: str | None,
    partner_id: uuid.UUID,
    started_at: datetime,
    result: SendTestEventResult,
) -> uuid.UUID:
    """A test send's event (no payment, already fanned out), its finished delivery and its attempt
    (``result``: what the send got)."""
    delivered, status_code, error = result.delivered, result.status_code, result.error
    await conn.execute(
        insert(events).values(
            id=event_id,
            payment_id=None,
            type=result.type,
            sequence=1,
            data=data,
            request_id=request_id,
            fanned_out_at=func.now(),
        )
    )
    delivery_id: uuid.UUID = await conn.scalar(
        insert(deliveries)
        .values(
            event_id=event_id,
            partner_id=partner_id,
            url=result.url,
            status="succeeded" if delivered else "failed",
            attempt_count=1,
            last_status_code=status_code,
            last_error=error[:1000] if error else None,
            delivered_at=func.now() if delivered else None,
            test=True,
        )
        .returning(deliveries.c.id)
    )
    await conn.execute(
        insert(attempts).values(
            delivery_id=delivery_id,
            attempt_number=1,
            started_at=started_at,
            duration_ms=result.duration_ms,
            status_code=status_code,
            response_excerpt=result.response_excerpt,
            error=error[:1000] if error else None,
        )
    )
    return delivery_id


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
            _NOT_A_TEST,
            _payload_kept(),
        )
        .values(_make_due())
    )
    return result.rowcount


# ------------------------------------------------------------------ the console's and the portal's reads


async def queue_depth(conn: AsyncConnection) -> RowMapping:
    """Pending deliveries, those due now and the oldest due one's age: the partial index on due_at."""
    query = text(
        "SELECT count(*) AS pending, count(*) FILTER (WHERE due_at <= now()) AS due,"
        " extract(epoch FROM now() - min(due_at) FILTER (WHERE due_at <= now()))::float AS oldest_due_seconds"
        " FROM webhook_deliveries WHERE status = 'pending'"
    )
    return (await conn.execute(query)).mappings().one()


def _minutes_since(since: datetime) -> Any:
    """Rollup minutes from the one ``since`` falls in."""
    return rollups.c.minute >= func.date_trunc("minute", since)


async def attempts_per_minute(conn: AsyncConnection, since: datetime) -> Sequence[RowMapping]:
    """Attempts per minute by outcome, from ``delivery_rollups`` (ix_delivery_rollups_minute)."""
    query = (
        select(
            rollups.c.minute,
            func.sum(rollups.c.succeeded).label("succeeded"),
            func.sum(rollups.c.attempts - rollups.c.succeeded).label("failed"),
        )
        .where(_minutes_since(since))
        .group_by(rollups.c.minute)
        .order_by(rollups.c.minute)
    )
    return (await conn.execute(query)).mappings().all()


async def partner_health(
    conn: AsyncConnection, since: datetime, partner_ids: Sequence[uuid.UUID] | None
) -> Sequence[RowMapping]:
    """Per partner, from ``delivery_rollups``: attempts since the minute of ``since``, how many
    succeeded, the summed latency histogram (``latency_le``), the slowest attempt and the last failure."""
    failures = rollups.c.last_failure_at.is_not(None)
    query = (
        select(
            rollups.c.partner_id,
            func.sum(rollups.c.attempts).label("attempts"),
            func.sum(rollups.c.succeeded).label("succeeded"),
            *(func.sum(rollups.c.latency_le[i + 1]).label(f"le_{i}") for i in range(len(LATENCY_BOUNDS_MS))),
            func.max(rollups.c.max_ms).label("max_ms"),
            func.max(rollups.c.last_failure_at).label("last_failure_at"),
            func.array_agg(aggregate_order_by(rollups.c.last_failure, rollups.c.last_failure_at.desc()))
            .filter(failures)[1]
            .label("last_failure"),
        )
        .where(_minutes_since(since))
        .group_by(rollups.c.partner_id)
    )
    if partner_ids is not None:
        query = query.where(rollups.c.partner_id.in_(partner_ids))
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
    filters: list[Any] = [
        events.c.type.in_(types),
        events.c.created_at < settled_before,
        events.c.payment_id.is_not(None),  # test sends are not events of the feed
    ]
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
