"""What happened to a claimed delivery, and the one task that writes those outcomes in batches."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import asyncpg

from payment_ms.dispatcher import metrics
from payment_ms.dispatcher import repositories as repo
from payment_ms.dispatcher.sender import AttemptResult, Claimed

logger = logging.getLogger("paygate.dispatcher")

DB_RETRY_SECONDS = 1.0


@dataclass(slots=True)
class Release:
    """Handed back unsent, due again after ``delay`` seconds."""

    claimed: Claimed
    delay: float


@dataclass(slots=True)
class Cancel:
    claimed: Claimed
    reason: str


@dataclass(slots=True)
class Record:
    """An attempt was made: record it; the delivery becomes ``status`` (due after ``delay`` if pending)."""

    result: AttemptResult
    status: str
    delay: float

    @property
    def claimed(self) -> Claimed:
        return self.result.claimed


Outcome = Release | Cancel | Record


@dataclass(slots=True)
class Batch:
    """Outcomes grouped the way they are written: attempt rows, releases by delay, cancels by reason."""

    records: list[tuple[Any, ...]] = field(default_factory=list)
    releases: dict[float, list[UUID]] = field(default_factory=lambda: defaultdict(list))
    cancels: dict[str, list[UUID]] = field(default_factory=lambda: defaultdict(list))


def _attempt_row(outcome: Record) -> tuple[Any, ...]:
    r = outcome.result
    return (
        r.claimed.id,
        r.claimed.attempt_number,
        r.started_at,
        r.duration_ms,
        r.status_code,
        r.excerpt,
        r.error,
        outcome.status,
        outcome.delay,
        r.url,
    )


def group(outcomes: list[Outcome]) -> Batch:
    batch = Batch()
    for outcome in outcomes:
        if isinstance(outcome, Record):
            batch.records.append(_attempt_row(outcome))
        elif isinstance(outcome, Release):
            metrics.DELIVERIES.labels("released").inc()
            batch.releases[outcome.delay].append(outcome.claimed.id)
        else:
            metrics.DELIVERIES.labels("canceled").inc()
            batch.cancels[outcome.reason].append(outcome.claimed.id)
    return batch


async def write_batch(conn: repo.Connection, worker_id: str, batch: Batch) -> None:
    if not batch.releases and not batch.cancels:  # the common case: one statement, no BEGIN/COMMIT
        await repo.record_attempts(conn, worker_id, batch.records)
        return
    async with conn.transaction():
        await repo.record_attempts(conn, worker_id, batch.records)
        for delay, ids in batch.releases.items():
            await repo.release(conn, worker_id, ids, delay)
        for reason, ids in batch.cancels.items():
            await repo.cancel(conn, worker_id, ids, reason)


class OutcomeRecorder:
    """Outcomes are queued by ``add`` and written by ``run`` (one writer at a time); ``on_written`` is
    called after each write: slots were freed and retries may have been scheduled."""

    def __init__(self, pool: asyncpg.Pool, worker_id: str, on_written: Callable[[], None]) -> None:
        self._pool = pool
        self._worker_id = worker_id
        self._on_written = on_written
        self._outcomes: list[Outcome] = []
        self._flush = asyncio.Event()
        self._lock = asyncio.Lock()  # shutdown waits for the last batch

    def add(self, outcome: Outcome) -> None:
        self._outcomes.append(outcome)
        self._flush.set()

    async def run(self) -> None:
        """Write whatever is queued until cancelled; a failed write is retried, the loop never dies."""
        while True:
            await self._flush.wait()
            self._flush.clear()
            if not await self._flush_logged():
                await asyncio.sleep(DB_RETRY_SECONDS)
                self._flush.set()

    async def _flush_logged(self) -> bool:
        try:
            await self.flush()
        except (asyncpg.PostgresError, OSError) as exc:
            logger.warning("could not record delivery results, retrying: %s", exc)
        except Exception:
            # Results stay queued (``write`` puts them back): the loop must never die.
            logger.exception("unexpected error recording delivery results; retrying")
        else:
            return True
        return False

    async def flush(self) -> None:
        async with self._lock:
            await self.write()

    async def write(self) -> None:
        if not self._outcomes:
            return
        outcomes, self._outcomes = self._outcomes, []
        batch = group(outcomes)
        try:
            async with self._pool.acquire() as conn:
                await write_batch(conn, self._worker_id, batch)
        except BaseException:
            self._outcomes[:0] = outcomes
            raise
        self._on_written()
