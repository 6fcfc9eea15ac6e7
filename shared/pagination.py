"""The one cursor of every list paygate answers (``{items, next_cursor}``, newest or oldest first by
``(created_at, id)``): pass ``next_cursor`` back as ``cursor`` for the next page. The cursor is the
position of the last row of the page, opaque to clients (base64url of ``created_at|id``)."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TypeVar

from shared.problems import BadRequestError

RowT = TypeVar("RowT")
Position = tuple[datetime, uuid.UUID]  # (created_at, id) of a page's last row


def encode_cursor(created_at: datetime, row_id: uuid.UUID) -> str:
    raw = f"{created_at.isoformat()}|{row_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> Position | None:
    """The position a cursor names (None for the first page); a 400 problem for anything else."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created_at, row_id = raw.split("|")
        return datetime.fromisoformat(created_at), uuid.UUID(row_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadRequestError("invalid cursor") from None


def page(
    rows: Sequence[RowT], limit: int, position: Callable[[RowT], Position]
) -> tuple[list[RowT], str | None]:
    """The first ``limit`` of ``rows`` (fetched with ``limit + 1``) and the cursor of the next page."""
    items = list(rows[:limit])
    next_cursor = encode_cursor(*position(items[-1])) if len(rows) > limit else None
    return items, next_cursor
