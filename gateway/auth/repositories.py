"""Login throttle counters in ``login_throttles``: one atomic upsert per attempt, so every gateway
replica sees the same counts and concurrent guesses cannot slip past the limit.

A row is one key (``gateway.auth.services.ThrottleKeys``): a counter with its window and, once tripped,
a lock. Slow-down rows use only ``locked_until``: the earliest time their client may try again.
``current_identity`` is the guards' read of a token's user."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# An attempt is counted BEFORE the password is checked (and given back on success): N concurrent
# guesses all increment the same row, so no more than ``max`` can ever reach the password check.
# A key that is locked stays as it is; a key whose lock ran out or whose window passed starts over.
_COUNT_ATTEMPT = text(
    """
    INSERT INTO login_throttles AS t (key, failures, window_started_at, locked_until)
    VALUES (:key, 1, now(), NULL)
    ON CONFLICT (key) DO UPDATE SET
      failures = CASE
          WHEN t.locked_until > now() THEN t.failures
          WHEN t.locked_until IS NOT NULL OR t.window_started_at <= now() - make_interval(secs => :window)
              THEN 1
          ELSE t.failures + 1 END,
      window_started_at = CASE
          WHEN t.locked_until > now() THEN t.window_started_at
          WHEN t.locked_until IS NOT NULL OR t.window_started_at <= now() - make_interval(secs => :window)
              THEN now()
          ELSE t.window_started_at END,
      locked_until = CASE
          WHEN t.locked_until > now() THEN t.locked_until
          WHEN t.locked_until IS NULL AND t.window_started_at > now() - make_interval(secs => :window)
               AND t.failures + 1 > :max_failures
              THEN now() + make_interval(secs => :lockout)
          ELSE NULL END
    RETURNING t.failures, EXTRACT(EPOCH FROM (t.locked_until - now()))::float8 AS locked_for
    """
)

# A counter that never locks by itself (the account's: it only decides whether the slow-down applies).
_NEVER = 2**31 - 1

_WAIT_UNTIL = text(
    """
    INSERT INTO login_throttles AS t (key, failures, window_started_at, locked_until)
    VALUES (:key, 0, now(), now() + make_interval(secs => :seconds))
    ON CONFLICT (key) DO UPDATE SET locked_until = EXCLUDED.locked_until, window_started_at = now()
    """
)
_WAITING_FOR = text(
    "SELECT EXTRACT(EPOCH FROM (locked_until - now()))::float8 FROM login_throttles "
    "WHERE key = :key AND locked_until > now()"
)

_GIVE_BACK = text(
    "UPDATE login_throttles SET failures = GREATEST(failures - 1, 0) "
    "WHERE key = :key AND locked_until IS NULL"
)
_FORGET = text("DELETE FROM login_throttles WHERE key = :key")


def _seconds(remaining: float | None) -> int | None:
    if remaining is None or remaining <= 0:
        return None
    return max(1, math.ceil(remaining))


async def count_attempt(
    session: AsyncSession, key: str, *, max_failures: int | None, window_seconds: int, lockout_seconds: int
) -> tuple[int, int | None]:
    """Count one attempt for ``key``: the attempts counted in its window (this one included) and the
    seconds it is locked for, or None when it may proceed. ``max_failures=None``: a counter only."""
    row = (
        await session.execute(
            _COUNT_ATTEMPT,
            {
                "key": key,
                "window": window_seconds,
                "lockout": lockout_seconds,
                "max_failures": _NEVER if max_failures is None else max_failures,
            },
        )
    ).one()
    return row.failures, _seconds(row.locked_for)


async def wait_until(session: AsyncSession, key: str, seconds: float) -> None:
    """``key`` may not try again for ``seconds`` (the slow-down of one client on one account)."""
    await session.execute(_WAIT_UNTIL, {"key": key, "seconds": seconds})


async def waiting_for(session: AsyncSession, key: str) -> int | None:
    """The seconds ``key`` must still wait, or None."""
    return _seconds(await session.scalar(_WAITING_FOR, {"key": key}))


async def give_back_attempt(session: AsyncSession, key: str) -> None:
    await session.execute(_GIVE_BACK, {"key": key})


async def forget(session: AsyncSession, key: str) -> None:
    await session.execute(_FORGET, {"key": key})


@dataclass(frozen=True, slots=True)
class Identity:
    is_active: bool
    role: str


async def current_identity(conn: asyncpg.Connection, user_id: uuid.UUID) -> Identity | None:
    """The user's state now, on a raw connection (the guards' hot path): None when there is no such user."""
    row = await conn.fetchrow("SELECT is_active, role FROM users WHERE id = $1", user_id)
    return None if row is None else Identity(is_active=row["is_active"], role=row["role"])
