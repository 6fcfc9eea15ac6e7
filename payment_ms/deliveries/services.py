"""Listing what the outbox recorded and what the dispatcher did with it; replays live in the dispatcher."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import msgspec
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncEngine

from payment_ms.deliveries import repositories as repo
from payment_ms.deliveries.schemas import (
    Attempt,
    Delivery,
    DeliveryDetail,
    DeliveryList,
    Event,
    EventList,
)
from payment_ms.pagination import decode_cursor, encode_cursor, page
from shared.contracts import (
    DeliveryStats,
    EventFeed,
    FeedEvent,
    MinuteOutcomes,
    PartnerHealth,
    PartnerHealthList,
)
from shared.models import LATENCY_BOUNDS_MS
from shared.problems import found
from shared.queries import DeliveryFilter, EventFilter, FeedQuery

S = TypeVar("S", bound=msgspec.Struct)


def from_row(cls: type[S], row: RowMapping, **extra: Any) -> S:
    """A response struct from a row: every field of ``cls`` the caller did not give is a column."""
    return cls(**{name: row[name] for name in cls.__struct_fields__ if name not in extra}, **extra)


async def list_events(engine: AsyncEngine, filters: EventFilter) -> EventList:
    fetch = functools.partial(repo.list_events, filters=filters)
    rows, next_cursor = await page(engine, fetch, filters.cursor, filters.limit)
    return EventList(items=[from_row(Event, row) for row in rows], next_cursor=next_cursor)


async def list_deliveries(engine: AsyncEngine, filters: DeliveryFilter) -> DeliveryList:
    fetch = functools.partial(repo.list_deliveries, filters=filters)
    rows, next_cursor = await page(engine, fetch, filters.cursor, filters.limit)
    return DeliveryList(items=[from_row(Delivery, row) for row in rows], next_cursor=next_cursor)


async def get_delivery(engine: AsyncEngine, delivery_id: uuid.UUID) -> DeliveryDetail:
    async with engine.connect() as conn:
        row = found(await repo.get_delivery(conn, delivery_id), f"delivery {delivery_id} not found")
        attempt_rows = await repo.list_attempts(conn, delivery_id)
    return from_row(DeliveryDetail, row, attempts=[from_row(Attempt, a) for a in attempt_rows])


async def get_event(engine: AsyncEngine, event_id: uuid.UUID) -> Event:
    async with engine.connect() as conn:
        row = found(await repo.get_event(conn, event_id), f"event {event_id} not found")
    return from_row(Event, row)


async def delivery_stats(engine: AsyncEngine, *, minutes: int) -> DeliveryStats:
    async with engine.connect() as conn:
        queue = await repo.queue_depth(conn)
        per_minute = await repo.attempts_per_minute(conn, datetime.now(UTC) - timedelta(minutes=minutes))
    return DeliveryStats(
        pending=queue["pending"],
        due=queue["due"],
        oldest_due_seconds=queue["oldest_due_seconds"],
        minutes=[from_row(MinuteOutcomes, row) for row in per_minute],
    )


async def partner_health(
    engine: AsyncEngine, *, since: datetime, partner_ids: Sequence[uuid.UUID] | None = None
) -> PartnerHealthList:
    async with engine.connect() as conn:
        rows = await repo.partner_health(conn, since, partner_ids)
    items = [from_row(PartnerHealth, row, p95_ms=p95_ms(row)) for row in rows]
    return PartnerHealthList(since=since, items=items)


def p95_ms(row: RowMapping) -> int | None:
    """The p95 of a partner's summed histogram (``le_0``…): the first bound with 95 % of the attempts at
    or under it (the exact p95 lies above the bound before it), at most the slowest attempt."""
    attempts = int(row["attempts"])
    if attempts == 0:
        return None
    needed = (95 * attempts + 99) // 100  # the rank percentile_disc(0.95) takes
    for i, bound in enumerate(LATENCY_BOUNDS_MS):
        if row[f"le_{i}"] >= needed:
            return min(bound, int(row["max_ms"]))
    return int(row["max_ms"])


async def event_feed(engine: AsyncEngine, query: FeedQuery) -> EventFeed:
    """Events in commit-safe order: an event's ``created_at`` is its transaction's start, so one that
    commits late can carry an earlier time than one already served; only events older than
    ``settle_seconds`` are served, so a transaction shorter than that can never be skipped by a cursor."""
    settled_before = datetime.now(UTC) - timedelta(seconds=query.settle_seconds)
    async with engine.connect() as conn:
        rows = list(
            await repo.event_feed(
                conn,
                types=query.types,
                created_from=query.created_from,
                settled_before=settled_before,
                after=decode_cursor(query.after),
                limit=query.limit + 1,
            )
        )
    items = rows[: query.limit]
    next_cursor = encode_cursor(items[-1]) if items else query.after
    return EventFeed(
        items=[from_row(FeedEvent, row) for row in items],
        next_cursor=next_cursor,
        has_more=len(rows) > query.limit,
    )
