"""The dispatcher's maintenance pass (every ``maintenance_interval_seconds``, each dispatcher):

- retention: event payloads and attempt bodies older than ``retention_days`` are purged, a small batch
  per statement (``retention_batch``, rows locked with ``SKIP LOCKED``) so delivery never waits on it;
  ids, types, states and timestamps stay for audit. An event with a pending delivery keeps its payload.
- ordering: a waiting delivery of an ordered partner whose earlier events are all finished is made due
  (the release normally happens when the earlier one finishes; this covers races and replays).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg

from payment_ms.dispatcher import metrics
from payment_ms.dispatcher import repositories as repo
from payment_ms.dispatcher.settings import DispatcherSettings

logger = logging.getLogger("paygate.dispatcher")

DAY_SECONDS = 86400.0
# One pass purges at most this many batches, then yields to the next interval.
MAX_BATCHES_PER_PASS = 20
# A maintenance statement is cancelled after this long: while one runs, its snapshot keeps every row the
# dispatch loop marked since from being removed, and the queue's scans walk their dead index entries.
STATEMENT_TIMEOUT_SECONDS = 10.0


async def purge_expired(pool: asyncpg.Pool, settings: DispatcherSettings) -> tuple[int, int]:
    """Retention, batch after batch until nothing is left (or the pass's share is used)."""
    events = attempts = 0
    for _ in range(MAX_BATCHES_PER_PASS):
        async with pool.acquire() as conn:
            retention = settings.retention_days * DAY_SECONDS
            purged, bodies = await repo.purge_expired(
                conn, retention, settings.retention_batch, STATEMENT_TIMEOUT_SECONDS
            )
        events += purged
        attempts += bodies
        if purged < settings.retention_batch:
            break
    if events:
        metrics.PURGED.labels("event_payload").inc(events)
        metrics.PURGED.labels("attempt_body").inc(attempts)
        logger.info("retention: purged %d event payloads and %d attempt bodies", events, attempts)
    return events, attempts


async def maintenance_pass(pool: asyncpg.Pool, settings: DispatcherSettings) -> None:
    await purge_expired(pool, settings)
    async with pool.acquire() as conn:
        released = await repo.release_unblocked(conn, settings.retention_batch, STATEMENT_TIMEOUT_SECONDS)
    if released:
        logger.info("ordering: %d waiting deliveries were due already", released)


async def maintenance_loop(pool: asyncpg.Pool, settings: DispatcherSettings, stopped: asyncio.Event) -> None:
    while not stopped.is_set():
        try:
            await maintenance_pass(pool, settings)
        except (asyncpg.PostgresError, OSError) as exc:
            logger.warning("maintenance pass failed: %s", exc)
        except Exception:
            logger.exception("unexpected error in the maintenance pass")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopped.wait(), settings.maintenance_interval_seconds)
