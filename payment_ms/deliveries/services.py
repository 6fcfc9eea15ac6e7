"""Listing what the outbox recorded and what the dispatcher did with it; replays live in the dispatcher."""

from __future__ import annotations

import functools
import uuid
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
from payment_ms.pagination import page
from shared.problems import NotFoundError
from shared.queries import DeliveryFilter, EventFilter

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
        row = await repo.get_delivery(conn, delivery_id)
        if row is None:
            raise NotFoundError(f"delivery {delivery_id} not found")
        attempt_rows = await repo.list_attempts(conn, delivery_id)
    return from_row(DeliveryDetail, row, attempts=[from_row(Attempt, a) for a in attempt_rows])
