"""Partner queries."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from shared.models import Partner
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
