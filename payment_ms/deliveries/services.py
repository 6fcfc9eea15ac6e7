"""Listing what the outbox recorded and what the dispatcher did with it; replays live in the dispatcher."""

from __future__ import annotations

import base64
import binascii
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
from shared.contracts import (
    DeliveryStats,
    EventFeed,
    FeedEvent,
    MinuteOutcomes,
    PartnerHealth,
    PartnerHealthList,
)
from shared.problems import BadRequestError, NotFoundError

S = TypeVar("S", bound=msgspec.Struct)


def encode_cursor(row: RowMapping) -> str:
    raw = f"{row['created_at'].isoformat()}|{row['id']}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> repo.Cursor | None:
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created_at, row_id = raw.split("|")
        return datetime.fromisoformat(created_at), uuid.UUID(row_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadRequestError("invalid cursor") from None


def from_row(cls: type[S], row: RowMapping, **extra: Any) -> S:
    """A response struct from a row: every field of ``cls`` the caller did not give is a column."""
    return cls(**{name: row[name] for name in cls.__struct_fields__ if name not in extra}, **extra)


def _next(rows: list[RowMapping], limit: int) -> str | None:
    return encode_cursor(rows[limit - 1]) if len(rows) > limit else None


async def list_events(
    engine: AsyncEngine,
    *,
    payment_id: uuid.UUID | None = None,
    event_type: str | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> EventList:
    after = decode_cursor(cursor)
    async with engine.connect() as conn:
        rows = list(
            await repo.list_events(
                conn,
                payment_id=payment_id,
                event_type=event_type,
                created_from=created_from,
                created_to=created_to,
                after=after,
                limit=limit + 1,
            )
        )
    items = [from_row(Event, row) for row in rows[:limit]]
    return EventList(items=items, next_cursor=_next(rows, limit))


async def list_deliveries(
    engine: AsyncEngine,
    *,
    status: str | None = None,
    partner_id: uuid.UUID | None = None,
    event_id: uuid.UUID | None = None,
    payment_id: uuid.UUID | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> DeliveryList:
    after = decode_cursor(cursor)
    async with engine.connect() as conn:
        rows = list(
            await repo.list_deliveries(
                conn,
                status=status,
                partner_id=partner_id,
                event_id=event_id,
                payment_id=payment_id,
                created_from=created_from,
                created_to=created_to,
                after=after,
                limit=limit + 1,
            )
        )
    return DeliveryList(
        items=[from_row(Delivery, row) for row in rows[:limit]], next_cursor=_next(rows, limit)
    )


async def get_event(engine: AsyncEngine, event_id: uuid.UUID) -> Event:
    async with engine.connect() as conn:
        row = await repo.get_event(conn, event_id)
    if row is None:
        raise NotFoundError(f"event {event_id} not found")
    return from_row(Event, row)


async def get_delivery(engine: AsyncEngine, delivery_id: uuid.UUID) -> DeliveryDetail:
    async with engine.connect() as conn:
        row = await repo.get_delivery(conn, delivery_id)
        if row is None:
            raise NotFoundError(f"delivery {delivery_id} not found")
        attempt_rows = await repo.list_attempts(conn, delivery_id)
    return from_row(DeliveryDetail, row, attempts=[from_row(Attempt, a) for a in attempt_rows])


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
    return PartnerHealthList(since=since, items=[from_row(PartnerHealth, row) for row in rows])


async def event_feed(
    engine: AsyncEngine,
    *,
    types: Sequence[str],
    created_from: datetime | None,
    settle_seconds: float,
    after: str | None,
    limit: int,
) -> EventFeed:
    """Events in commit-safe order: an event's ``created_at`` is its transaction's start, so one that
    commits late can carry an earlier time than one already served; only events older than
    ``settle_seconds`` are served, so a transaction shorter than that can never be skipped by a cursor."""
    cursor = after
    settled_before = datetime.now(UTC) - timedelta(seconds=settle_seconds)
    async with engine.connect() as conn:
        rows = list(
            await repo.event_feed(
                conn,
                types=types,
                created_from=created_from,
                settled_before=settled_before,
                after=decode_cursor(cursor),
                limit=limit + 1,
            )
        )
    page = rows[:limit]
    next_cursor = encode_cursor(page[-1]) if page else cursor
    return EventFeed(
        items=[from_row(FeedEvent, row) for row in page], next_cursor=next_cursor, has_more=len(rows) > limit
    )
