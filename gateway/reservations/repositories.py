"""Reservation queries."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from datetime import datetime

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
# Single statements on the pooled asyncpg connection (``shared.db.raw_connection``). A reservation's
# payment fields are derived state: payment_ms's payment rows and events are the truth (it also keeps
# a reservation to one live payment), so the gateway writes them with asynchronous commit (no WAL flush
# to wait for) and a write lost in a crash is rebuilt by the next event or read of the payment.

# What a checkout needs to know, and whether a claim left by an older gateway (pending without a live
# payment) has run out ($3 seconds).
_CHECKOUT_STATE = """
SELECT amount, currency, description, capture_method, status, payment_id, payment_status,
       updated_at < now() - make_interval(secs => $3) AS stale
FROM reservations WHERE id = $1 AND user_id = $2
"""
# The news of payment $2 (created at $7): the reservation's own payment moves only forward on the
# ranks ($6: the news's rank; the current status's rank is a CASE of the caller's ranks, an unknown
# status ranks -1); a payment newer than the reservation's adopts it (one of unknown age is never taken
# over). Asynchronous commit for this transaction only.
_FOLLOW = """
UPDATE reservations AS r
SET payment_id = $2, payment_status = $3, status = $4, payment_created_at = $7, updated_at = now()
FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit
WHERE r.id = $1 AND r.user_id = $5
  AND CASE WHEN r.payment_id = $2 THEN {rank} < $6
           ELSE r.payment_id IS NULL OR r.payment_created_at < $7 END
"""


@functools.cache
def _follow_sql(progress: tuple[tuple[str, int], ...]) -> str:
    """The statement with the ranks written in (a constant per rank table: prepared once per
    connection, and no JSON for PostgreSQL to parse per call)."""
    for status, rank in progress:
        if not status.replace("_", "").isalpha() or not isinstance(rank, int):
            raise ValueError(f"not a payment status rank: {status!r} {rank!r}")
    cases = " ".join(f"WHEN '{status}' THEN {rank}" for status, rank in progress)
    return _FOLLOW.format(rank=f"(CASE r.payment_status {cases} ELSE -1 END)")


async def checkout_state(
    conn: asyncpg.Connection, reservation_id: uuid.UUID, owner_id: uuid.UUID, *, stale_after_seconds: float
) -> asyncpg.Record | None:
    """The owner's reservation as a checkout sees it; None when it is not theirs (or does not exist)."""
    return await conn.fetchrow(_CHECKOUT_STATE, reservation_id, owner_id, stale_after_seconds)


def is_checkout_claim(status: str, payment_status: str | None) -> bool:
    """What a gateway before revision 0008 left while it created a payment: pending, while its
    payment (if any) is a dead one."""
    return status == "pending" and payment_status in (None, "failed", "canceled")


async def follow_payment(
    conn: asyncpg.Connection,
    progress: dict[str, int],
    *,
    reservation_id: uuid.UUID,
    payment_id: uuid.UUID,
    payment_created_at: datetime,
    user_id: uuid.UUID,
    payment_status: str,
    status: str,
) -> bool:
    """Move the reservation to a payment's news (module comment above); one statement, so reading a
    payment that did not change writes nothing and takes no lock for long."""
    tag = await conn.execute(
        _follow_sql(tuple(sorted(progress.items()))),
        reservation_id,
        payment_id,
        payment_status,
        status,
        user_id,
        progress[payment_status],
        payment_created_at,
    )
    return tag.endswith(" 1")
