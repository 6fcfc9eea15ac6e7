"""The outbox: payment events are rows of ``payment_events``, announced on one ``NOTIFY`` channel.

payment_ms writes them in the transaction of the change; the dispatcher ``LISTEN``s and fans them out
to partners. PostgreSQL delivers a notification only if its transaction commits, so a rolled-back
change wakes nobody. Each event gets the next ``sequence`` of its payment: changes of a payment
serialise on its row (``SELECT ... FOR UPDATE``), so two of them never pick the same number (a unique
index makes sure); a payment's first event, written with the payment, is number 1.

The event insert and its notification are written here only: ``record_event`` for a change on an
SQLAlchemy connection, and the two fragments below for a statement that writes the event as one of
its CTEs (payment_ms's single-statement create).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection

NOTIFY_CHANNEL = "payment_events"

# ``INSERT_EVENT`` followed by the values of (payment_id, type, data, request_id, source, sequence) as a
# VALUES list or a SELECT; as a CTE named ``event``, ``NOTIFY_EVENT`` then announces the new row's id.
INSERT_EVENT = "INSERT INTO payment_events (payment_id, type, data, request_id, source, sequence)"
NOTIFY_EVENT = f"SELECT id, pg_notify('{NOTIFY_CHANNEL}', id::text) FROM event"  # noqa: S608 (constants)
# Wakes every dispatcher without a new event (e.g. a replayed delivery is due now).
_WAKE_DISPATCHERS = text(f"SELECT pg_notify('{NOTIFY_CHANNEL}', :reason)")

_RECORD_EVENT = text(
    f"""
    WITH event AS (
        {INSERT_EVENT}
        VALUES (
            :payment_id, :type, :data, :request_id, :source,
            (SELECT coalesce(max(sequence), 0) + 1 FROM payment_events WHERE payment_id = :payment_id)
        )
        RETURNING id
    )
    {NOTIFY_EVENT}
    """  # noqa: S608 (this module's constants)
).bindparams(bindparam("data", type_=JSONB))


async def record_event(
    conn: AsyncConnection,
    *,
    payment_id: uuid.UUID,
    event_type: str,
    data: Any,
    request_id: str | None,
    source: str | None,
) -> uuid.UUID:
    """Insert one event (``data`` as JSON) and notify the dispatchers, in the caller's transaction."""
    result = await conn.execute(
        _RECORD_EVENT,
        {
            "payment_id": payment_id,
            "type": event_type,
            "data": data,
            "request_id": request_id,
            "source": source,
        },
    )
    event_id: uuid.UUID = result.scalar_one()
    return event_id


async def wake_dispatchers(conn: AsyncConnection, reason: str) -> None:
    await conn.execute(_WAKE_DISPATCHERS, {"reason": reason})
