"""Partner queries."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.models import OperationalEvent, Partner
from shared.pagination import Position


async def get(session: AsyncSession, partner_id: uuid.UUID, *, for_update: bool = False) -> Partner | None:
    statement = select(Partner).where(Partner.id == partner_id)
    if for_update:
        statement = statement.with_for_update()
    return await session.scalar(statement)


async def list_(
    session: AsyncSession,
    *,
    event_type: str | None = None,
    enabled: bool | None = None,
    after: Position | None = None,
    limit: int | None = None,
) -> Sequence[Partner]:
    """Oldest first, from after ``after`` (the previous page's last row); every one without ``limit``."""
    statement = select(Partner)
    if event_type is not None:
        statement = statement.where(Partner.event_types.contains([event_type]))  # GIN index
    if enabled is not None:
        statement = statement.where(Partner.enabled.is_(enabled))
    if after is not None:
        statement = statement.where(tuple_(Partner.created_at, Partner.id) > after)
    rows = await session.scalars(statement.order_by(Partner.created_at, Partner.id).limit(limit))
    return rows.all()


async def add_operational_event(
    session: AsyncSession, event_type: str, partner_id: uuid.UUID, data: dict[str, Any]
) -> None:
    session.add(OperationalEvent(type=event_type, partner_id=partner_id, data=data))


async def unprocessed_operational_events(session: AsyncSession, limit: int) -> Sequence[OperationalEvent]:
    """Oldest first; several dispatchers may read the same ones (each marks them processed after)."""
    rows = await session.scalars(
        select(OperationalEvent)
        .where(OperationalEvent.processed_at.is_(None))
        .order_by(OperationalEvent.created_at, OperationalEvent.id)
        .limit(limit)
    )
    return rows.all()


async def mark_operational_events_processed(session: AsyncSession, ids: Sequence[uuid.UUID]) -> int:
    result = await session.execute(
        update(OperationalEvent)
        .where(OperationalEvent.id.in_(ids), OperationalEvent.processed_at.is_(None))
        .values(processed_at=func.now())
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
