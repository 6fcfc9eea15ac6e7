"""The one pagination of payment_ms's lists: newest first, keyset on (created_at, id), an opaque cursor.

Stable under inserts and no OFFSET scans. ``keyset_page`` is the statement every list repository ends
with; ``page`` is what every list service does around it.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Table, select, tuple_
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared import pagination as shared_pagination

Cursor = tuple[datetime, uuid.UUID]


class Window(Protocol):
    """A list filter's creation window (``shared.queries``: every list filter has one)."""

    @property
    def created_from(self) -> datetime | None: ...
    @property
    def created_to(self) -> datetime | None: ...


Fetch = Callable[[AsyncConnection, Cursor | None, int], Awaitable[Sequence[RowMapping]]]


def encode_cursor(row: RowMapping) -> str:
    """The cursor after ``row`` (the one codec: ``shared.pagination``)."""
    return shared_pagination.encode_cursor(row["created_at"], row["id"])


def decode_cursor(cursor: str | None) -> Cursor | None:
    return shared_pagination.decode_cursor(cursor)


def matching(table: Table, **values: object) -> list[Any]:
    """``column == value`` for every filter given (None: not filtered on)."""
    return [table.c[name] == value for name, value in values.items() if value is not None]


async def keyset_page(
    conn: AsyncConnection,
    table: Table,
    filters: list[Any],
    window: Window,
    *,
    after: Cursor | None,
    limit: int,
) -> Sequence[RowMapping]:
    """Rows of ``table`` matching ``filters`` created in ``window``, newest first, after ``after``."""
    if window.created_from is not None:
        filters.append(table.c.created_at >= window.created_from)
    if window.created_to is not None:
        filters.append(table.c.created_at < window.created_to)
    if after is not None:
        filters.append(tuple_(table.c.created_at, table.c.id) < tuple_(*after))
    query = select(table).where(*filters).order_by(table.c.created_at.desc(), table.c.id.desc()).limit(limit)
    return (await conn.execute(query)).mappings().all()


async def page(
    engine: AsyncEngine, fetch: Fetch, cursor: str | None, limit: int
) -> tuple[Sequence[RowMapping], str | None]:
    """One page of what ``fetch(conn, after, limit)`` lists, and the cursor of the next (None: last)."""
    after = decode_cursor(cursor)
    async with engine.connect() as conn:
        rows = await fetch(conn, after, limit + 1)
    return rows[:limit], encode_cursor(rows[limit - 1]) if len(rows) > limit else None
