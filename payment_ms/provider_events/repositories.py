"""The provider events already processed (``provider_events``): each changes payments at most once."""

from __future__ import annotations

from sqlalchemy import Table, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.models import ProviderEvent as ProviderEventModel

provider_events: Table = ProviderEventModel.__table__  # type: ignore[assignment]


async def record_provider_event(conn: AsyncConnection, provider: str, event_id: str, event_type: str) -> bool:
    """False when this provider event was processed before (nothing to do)."""
    inserted = await conn.execute(
        pg_insert(provider_events)
        .values(provider=provider, id=event_id, type=event_type)
        .on_conflict_do_nothing()
        .returning(provider_events.c.id)
    )
    return inserted.first() is not None


async def provider_event_seen(conn: AsyncConnection, provider: str, event_id: str) -> bool:
    result = await conn.execute(
        select(provider_events.c.id).where(
            provider_events.c.provider == provider, provider_events.c.id == event_id
        )
    )
    return result.first() is not None
