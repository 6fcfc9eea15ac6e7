"""What happened to a claimed delivery, and the one task that writes those outcomes in batches."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
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
class Hold:
    """Not sent: the partner is disabled. The delivery waits until it is enabled again."""

    claimed: Claimed


@dataclass(slots=True)
class Record:
    """An attempt was made: record it; the delivery becomes ``status`` (due after ``delay`` if pending).

    ``throttled``: the partner answered 429 (backs off, neither a retry nor a failure of its health);
    ``ordered``: the partner takes a payment's events in order (a finished one frees the next)."""

    result: AttemptResult
    status: str
    delay: float
    throttled: bool = False
    ordered: bool = False

    @property
    def claimed(self) -> Claimed:
        return self.result.claimed

    @property
    def counts_as_failure(self) -> bool:
        """Towards the health policy: an attempt that failed, not a 429 and not a 410 (that disables)."""
        return self.status != "succeeded" and not self.throttled and self.result.status_code != 410


Outcome = Release | Cancel | Record | Hold


@dataclass(slots=True)
class Batch:
    """Outcomes grouped the way they are written: attempt rows, releases by delay, cancels by reason,
    holds; and what the health policy and ordered delivery need from them."""

    records: list[tuple[Any, ...]] = field(default_factory=list)
    releases: dict[float, list[UUID]] = field(default_factory=lambda: defaultdict(list))
    cancels: dict[str, list[UUID]] = field(default_factory=lambda: defaultdict(list))
    holds: list[UUID] = field(default_factory=list)
    finished_in_order: list[UUID] = field(default_factory=list)
    # partner -> (failed attempts since its last success in this batch, the first of them's start)
    failures: dict[UUID, tuple[int, datetime]] = field(default_factory=dict)

    def health_failures(self) -> list[tuple[UUID, int, datetime]]:
        return [(partner, count, since) for partner, (count, since) in self.failures.items()]


def _note_health(batch: Batch, outcome: Record) -> None:
    partner = outcome.claimed.partner_id
    if outcome.status == "succeeded":
        batch.failures.pop(partner, None)
    elif outcome.counts_as_failure:
        count, since = batch.failures.get(partner, (0, outcome.result.started_at))
        batch.failures[partner] = (count + 1, since)


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
        outcome.throttled,
    )


def group(outcomes: list[Outcome]) -> Batch:
    batch = Batch()
    for outcome in outcomes:
        if isinstance(outcome, Record):
            batch.records.append(_attempt_row(outcome))
            _note_health(batch, outcome)
            if outcome.ordered and outcome.status != "pending":
                batch.finished_in_order.append(outcome.claimed.id)
        elif isinstance(outcome, Hold):
            metrics.DELIVERIES.labels("held").inc()
            batch.holds.append(outcome.claimed.id)
        elif isinstance(outcome, Release):
            metrics.DELIVERIES.labels("released").inc()
            batch.releases[outcome.delay].append(outcome.claimed.id)
        else:
            metrics.DELIVERIES.labels("canceled").inc()
            batch.cancels[outcome.reason].append(outcome.claimed.id)
    return batch


async def write_batch(conn: repo.Connection, worker_id: str, batch: Batch) -> list[Any]:
    """Write a batch; the health rows of partners that failed in it (for the health policy)."""
    if not (batch.releases or batch.cancels or batch.holds or batch.finished_in_order or batch.failures):
        # the common case: one statement, no BEGIN/COMMIT
        await repo.record_attempts(conn, worker_id, batch.records)
        return []
    async with conn.transaction():
        await repo.record_attempts(conn, worker_id, batch.records)
        for delay, ids in batch.releases.items():
            await repo.release(conn, worker_id, ids, delay)
        for reason, ids in batch.cancels.items():
            await repo.cancel(conn, worker_id, ids, reason)
        await repo.hold(conn, worker_id, batch.holds)
        failed = await repo.health_failed(conn, batch.health_failures())
    # After the commit, so that it sees every waiting successor whose insert committed before it (a
    # fan-out still in flight checks for itself once committed: ``release_if_unblocked``).
    await repo.release_next_in_order(conn, batch.finished_in_order)
    return failed


class OutcomeRecorder:
    """Outcomes are queued by ``add`` and written by ``run`` (one writer at a time); ``on_written`` is
    called after each write: slots were freed and retries may have been scheduled."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        worker_id: str,
        on_written: Callable[[], None],
        on_health: Callable[[list[Any]], None] | None = None,
    ) -> None:
        self._pool = pool
        self._worker_id = worker_id
        self._on_written = on_written
        self._on_health = on_health
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
                health = await write_batch(conn, self._worker_id, batch)
        except BaseException:
            self._outcomes[:0] = outcomes
            raise
        if health and self._on_health is not None:
            self._on_health(health)
        self._on_written()
