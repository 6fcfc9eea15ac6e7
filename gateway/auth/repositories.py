"""Login throttle counters in ``login_throttles``: one atomic upsert per attempt, so every gateway
replica sees the same counts and concurrent guesses cannot slip past the limit."""

from __future__ import annotations

import math

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
    RETURNING EXTRACT(EPOCH FROM (t.locked_until - now()))::float8 AS locked_for
    """
)

_GIVE_BACK = text(
    "UPDATE login_throttles SET failures = GREATEST(failures - 1, 0) "
    "WHERE key = :key AND locked_until IS NULL"
)
_FORGET = text("DELETE FROM login_throttles WHERE key = :key")


async def count_attempt(
    session: AsyncSession, key: str, *, max_failures: int, window_seconds: int, lockout_seconds: int
) -> int | None:
    """Count one attempt for ``key``; return the seconds it is locked for, or None when it may proceed."""
    locked_for = await session.scalar(
        _COUNT_ATTEMPT,
        {"key": key, "window": window_seconds, "lockout": lockout_seconds, "max_failures": max_failures},
    )
    if locked_for is None or locked_for <= 0:
        return None
    return max(1, math.ceil(locked_for))


async def give_back_attempt(session: AsyncSession, key: str) -> None:
    await session.execute(_GIVE_BACK, {"key": key})


async def forget(session: AsyncSession, key: str) -> None:
    await session.execute(_FORGET, {"key": key})
