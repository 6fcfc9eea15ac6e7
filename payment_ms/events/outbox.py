"""A payment's outbox event, written in the caller's transaction (``shared.outbox`` owns the SQL)."""

from __future__ import annotations

import uuid

import msgspec
from sqlalchemy.ext.asyncio import AsyncConnection

from payment_ms.events.source import current_source
from shared import outbox
from shared.contracts import EventType, Payment
from shared.observability import current_request_id


async def record_event(conn: AsyncConnection, payment: Payment, event_type: EventType) -> uuid.UUID:
    """Insert the event whose ``data`` is ``payment`` (as after the change) and notify the dispatcher."""
    return await outbox.record_event(
        conn,
        payment_id=payment.id,
        event_type=event_type,
        data=msgspec.to_builtins(payment),
        request_id=current_request_id(),
        source=current_source(),
    )
