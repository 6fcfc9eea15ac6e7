"""Listing what the outbox recorded and what the dispatcher did with it; replays live in the dispatcher."""

from __future__ import annotations

import uuid
from datetime import datetime
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
from shared.pagination import Position, decode_cursor, page
from shared.problems import NotFoundError

S = TypeVar("S", bound=msgspec.Struct)


def _position(row: RowMapping) -> Position:
    return row["created_at"], row["id"]


def from_row(cls: type[S], row: RowMapping, **extra: Any) -> S:
    """A response struct from a row: every field of ``cls`` the caller did not give is a column."""
    return cls(**{name: row[name] for name in cls.__struct_fields__ if name not in extra}, **extra)


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
    items, next_cursor = page(rows, limit, _position)
    return EventList(items=[from_row(Event, row) for row in items], next_cursor=next_cursor)


async def list_deliveries(
    engine: AsyncEngine,
    *,
    status: str | None = None,
    partner_id: uuid.UUID | None = None,
    event_id: uuid.UUID | None = None,
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
                created_from=created_from,
                created_to=created_to,
                after=after,
                limit=limit + 1,
            )
        )
    items, next_cursor = page(rows, limit, _position)
    return DeliveryList(items=[from_row(Delivery, row) for row in items], next_cursor=next_cursor)


async def get_delivery(engine: AsyncEngine, delivery_id: uuid.UUID) -> DeliveryDetail:
    async with engine.connect() as conn:
        row = await repo.get_delivery(conn, delivery_id)
        if row is None:
            raise NotFoundError(f"delivery {delivery_id} not found")
        attempt_rows = await repo.list_attempts(conn, delivery_id)
    return from_row(DeliveryDetail, row, attempts=[from_row(Attempt, a) for a in attempt_rows])
