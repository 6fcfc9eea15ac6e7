"""Reservation queries."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.models import Reservation


async def get(
    session: AsyncSession,
    reservation_id: uuid.UUID,
    *,
    owner_id: uuid.UUID | None = None,
    for_update: bool = False,
    nowait: bool = False,
) -> Reservation | None:
    statement = select(Reservation).where(Reservation.id == reservation_id)
    if owner_id is not None:
        statement = statement.where(Reservation.user_id == owner_id)
    if for_update:
        statement = statement.with_for_update(nowait=nowait)
    return await session.scalar(statement)


async def list_(
    session: AsyncSession,
    *,
    user_id: uuid.UUID | None = None,
    status: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[Sequence[Reservation], int]:
    statement = select(Reservation)
    if user_id is not None:
        statement = statement.where(Reservation.user_id == user_id)
    if status is not None:
        statement = statement.where(Reservation.status == status)
    total = await session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    ordered = statement.order_by(Reservation.created_at.desc(), Reservation.id).offset(offset).limit(limit)
    return (await session.scalars(ordered)).all(), total
