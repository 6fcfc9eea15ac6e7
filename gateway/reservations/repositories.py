"""Reservation queries."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence

import asyncpg
from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from shared.models import Reservation
from shared.pagination import Position


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
    after: Position | None = None,
    limit: int = 50,
) -> Sequence[Reservation]:
    """Newest first, from after ``after`` (the previous page's last row)."""
    statement = select(Reservation)
    if user_id is not None:
        statement = statement.where(Reservation.user_id == user_id)
    if status is not None:
        statement = statement.where(Reservation.status == status)
    if after is not None:
        statement = statement.where(tuple_(Reservation.created_at, Reservation.id) < after)
    ordered = statement.order_by(Reservation.created_at.desc(), Reservation.id.desc()).limit(limit)
    return (await session.scalars(ordered)).all()


# ---------------------------------------------------------------------------------- checkout hot path
# Single statements on the pooled asyncpg connection (``shared.db.raw_connection``): each is atomic on
# its own, and no row lock or connection is held while payment_ms creates the payment.

# A checkout claims a payable reservation by marking it ``pending`` before its payment exists. The
# claim is recognisable (pending, but its payment, if any, is dead) and expires: a gateway that died
# mid-checkout leaves a claim the next checkout may take over once ``$3`` seconds have passed.
_CLAIM = """
UPDATE reservations SET status = 'pending', updated_at = now()
WHERE id = $1 AND user_id = $2
  AND (status = 'payable'
       OR (status = 'pending' AND (payment_status IS NULL OR payment_status IN ('failed', 'canceled'))
           AND updated_at < now() - make_interval(secs => $3)))
RETURNING amount, currency, description, payment_id, capture_method
"""
_OWNED = "SELECT status, payment_id, payment_status FROM reservations WHERE id = $1 AND user_id = $2"
_RECORD = """
UPDATE reservations SET payment_id = $2, payment_status = $3, status = $4, updated_at = now()
WHERE id = $1 AND payment_id IS NOT DISTINCT FROM $5
  AND status = 'pending' AND (payment_status IS NULL OR payment_status IN ('failed', 'canceled'))
"""
_RELEASE = """
UPDATE reservations SET status = 'payable', updated_at = now()
WHERE id = $1 AND payment_id IS NOT DISTINCT FROM $2
  AND status = 'pending' AND (payment_status IS NULL OR payment_status IN ('failed', 'canceled'))
"""
# $6: the news's rank; $7: every status's rank as a JSON object (an unknown current status ranks -1).
_FOLLOW = """
UPDATE reservations SET payment_status = $3, status = $4, updated_at = now()
WHERE id = $1 AND payment_id = $2 AND user_id = $5
  AND COALESCE(($7::jsonb ->> payment_status)::int, -1) < $6
"""


def _ranks_json(progress: dict[str, int]) -> str:
    return json.dumps(progress, sort_keys=True)


def _one_row_changed(command_tag: str) -> bool:
    return command_tag.endswith(" 1")


async def claim_for_checkout(
    conn: asyncpg.Connection, reservation_id: uuid.UUID, owner_id: uuid.UUID, *, stale_after_seconds: float
) -> asyncpg.Record | None:
    """The reservation's amount, currency, description and previous payment id, if it was claimed."""
    return await conn.fetchrow(_CLAIM, reservation_id, owner_id, stale_after_seconds)


async def owned_state(
    conn: asyncpg.Connection, reservation_id: uuid.UUID, owner_id: uuid.UUID
) -> asyncpg.Record | None:
    return await conn.fetchrow(_OWNED, reservation_id, owner_id)


def is_checkout_claim(status: str, payment_status: str | None) -> bool:
    """What ``_CLAIM`` leaves behind: pending, while its payment (if any) is a dead one."""
    return status == "pending" and payment_status in (None, "failed", "canceled")


async def record_checkout(
    conn: asyncpg.Connection,
    reservation_id: uuid.UUID,
    *,
    previous_payment_id: uuid.UUID | None,
    payment_id: uuid.UUID,
    payment_status: str,
    status: str,
) -> bool:
    """Point the claimed reservation at its new payment; False when the claim was lost meanwhile."""
    tag = await conn.execute(_RECORD, reservation_id, payment_id, payment_status, status, previous_payment_id)
    return _one_row_changed(tag)


async def release_checkout(
    conn: asyncpg.Connection, reservation_id: uuid.UUID, *, previous_payment_id: uuid.UUID | None
) -> None:
    await conn.execute(_RELEASE, reservation_id, previous_payment_id)


async def follow_payment(
    conn: asyncpg.Connection,
    progress: dict[str, int],
    *,
    reservation_id: uuid.UUID,
    payment_id: uuid.UUID,
    user_id: uuid.UUID,
    payment_status: str,
    status: str,
) -> bool:
    """Move the reservation to its current payment's news, only forward on ``progress``; one statement,
    so reading a payment that did not change writes nothing and takes no lock for long."""
    tag = await conn.execute(
        _FOLLOW,
        reservation_id,
        payment_id,
        payment_status,
        status,
        user_id,
        progress[payment_status],
        _ranks_json(progress),
    )
    return _one_row_changed(tag)
