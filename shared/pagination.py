"""The one cursor of every list paygate answers (``{items, next_cursor}``, newest or oldest first by
``(created_at, id)``): pass ``next_cursor`` back as ``cursor`` for the next page. The cursor is the
position of the last row of the page, opaque to clients: 32 base64url characters (``CURSOR_PATTERN``)
holding 24 bytes, the microseconds of ``created_at`` since the Unix epoch (signed, big-endian) and the
row's id. Every string of that shape names a position (one past the calendar is its end), so what the
documents allow, the server accepts; an empty cursor is the first page."""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from shared.problems import BadRequestError

RowT = TypeVar("RowT")
Position = tuple[datetime, uuid.UUID]  # (created_at, id) of a page's last row


CURSOR_LENGTH = 32  # base64url of 8 + 16 bytes, no padding
CURSOR_PATTERN = f"^([A-Za-z0-9_-]{{{CURSOR_LENGTH}}})?$"
_CURSOR = re.compile(CURSOR_PATTERN)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FIRST = datetime.min.replace(tzinfo=UTC)
_LAST = datetime.max.replace(tzinfo=UTC)


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def encode_cursor(created_at: datetime, row_id: uuid.UUID) -> str:
    raw = _micros(created_at).to_bytes(8, "big", signed=True) + row_id.bytes
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> Position | None:
    """The position a cursor names (None for the first page); a 400 problem for anything else."""
    if not cursor:
        return None
    if not _CURSOR.match(cursor):
        raise BadRequestError("invalid cursor")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (ValueError, binascii.Error):
        raise BadRequestError("invalid cursor") from None
    micros = int.from_bytes(raw[:8], "big", signed=True)
    # outside the calendar: the calendar's first or last moment (no row lies beyond either)
    micros = min(max(micros, _micros(_FIRST)), _micros(_LAST))
    return _EPOCH + timedelta(microseconds=micros), uuid.UUID(bytes=raw[8:])


def page(
    rows: Sequence[RowT], limit: int, position: Callable[[RowT], Position]
) -> tuple[list[RowT], str | None]:
    """The first ``limit`` of ``rows`` (fetched with ``limit + 1``) and the cursor of the next page."""
    items = list(rows[:limit])
    next_cursor = encode_cursor(*position(items[-1])) if len(rows) > limit else None
    return items, next_cursor
