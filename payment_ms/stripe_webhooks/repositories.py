"""Stripe event ids already processed: each event changes payments at most once."""

from __future__ import annotations

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.models import StripeEvent

stripe_events: Table = StripeEvent.__table__  # type: ignore[assignment]


async def record_event_id(conn: AsyncConnection, event_id: str, event_type: str) -> bool:
    """False when the event was seen before (nothing written)."""
    inserted = await conn.execute(
        insert(stripe_events)
        .values(id=event_id, type=event_type)
        .on_conflict_do_nothing()
        .returning(stripe_events.c.id)
    )
    return inserted.first() is not None
