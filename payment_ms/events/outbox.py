"""Writing an outbox event and waking the dispatcher, in the caller's transaction.

The event row and ``pg_notify`` go out in one statement (one round trip on the hot path). PostgreSQL
delivers the notification only if the transaction commits, so a rolled-back change wakes nobody.
Each event gets the next ``sequence`` of its payment: changes of a payment serialise on its row
(``SELECT … FOR UPDATE``), so two of them never pick the same number (a unique index makes sure).
"""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.contracts import EventType, Payment
from shared.observability import current_request_id
from shared.outbox import NOTIFY_CHANNEL

_INSERT_AND_NOTIFY = text(
    """
    WITH event AS (
        INSERT INTO payment_events (payment_id, type, data, request_id, sequence)
        VALUES (
            :payment_id, :type, :data, :request_id,
            (SELECT coalesce(max(sequence), 0) + 1 FROM payment_events WHERE payment_id = :payment_id)
        )
        RETURNING id
    )
    SELECT id, pg_notify(:channel, id::text) FROM event
    """
).bindparams(bindparam("data", type_=JSONB))


async def record_event(conn: AsyncConnection, payment: Payment, event_type: EventType) -> uuid.UUID:
    """Insert the event whose ``data`` is ``payment`` (as after the change) and notify the dispatcher."""
    data: dict[str, Any] = msgspec.to_builtins(payment)
    result = await conn.execute(
        _INSERT_AND_NOTIFY,
        {
            "payment_id": payment.id,
            "type": event_type,
            "data": data,
            "request_id": current_request_id(),
            "channel": NOTIFY_CHANNEL,
        },
    )
    event_id: uuid.UUID = result.scalar_one()
    return event_id
