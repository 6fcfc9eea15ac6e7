"""The dispatcher loop: fan events out into deliveries, claim due deliveries, send, record, retry.

The parts: ``backlog`` (what this process holds per partner, pure), ``fanout``, ``delivery`` (one
attempt, judged), ``outcomes`` (results written in batches by one task), ``listener`` (``LISTEN`` on the
outbox channel wakes the loop) and ``factory`` (builds the pool and the HTTP clients before any loop
starts). A delivery is sent only while enough of its lease is left for the request to finish (checked
when it leaves the backlog and again right before the request); otherwise it is handed back, so however
long it waited behind a hanging partner's requests it is never sent after its lease ran out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import asyncpg

from payment_ms.dispatcher import metrics
from payment_ms.dispatcher import repositories as repo
from payment_ms.dispatcher.backlog import Backlog, ClaimRequest
from payment_ms.dispatcher.delivery import Deliverer
from payment_ms.dispatcher.fanout import fan_out_once
from payment_ms.dispatcher.listener import NotificationListener
from payment_ms.dispatcher.maintenance import maintenance_loop
from payment_ms.dispatcher.operational import OperationalEvents
from payment_ms.dispatcher.outcomes import Outcome, OutcomeRecorder, Record, Release
from payment_ms.dispatcher.partners import PartnerDirectory
from payment_ms.dispatcher.sender import Claimed, EventBody
from payment_ms.dispatcher.settings import DispatcherSettings
from payment_ms.settings import PaymentSettings

logger = logging.getLogger("paygate.dispatcher")

DB_RETRY_SECONDS = 1.0
MIN_WAIT_SECONDS = 0.01
LISTEN_START_TIMEOUT_SECONDS = 10.0


def claimed_from_rows(rows: Sequence[Any], lease_deadline: float) -> list[Claimed]:
    """Claimed rows as deliveries to send; each event's bodies are serialised once for all its partners."""
    bodies: dict[Any, EventBody] = {}
    claimed = []
    for row in rows:
        event_id = row["event_id"]
        body = bodies.get(event_id)
        if body is None:
            body = bodies[event_id] = EventBody(row["type"], row["created_at"], row["sequence"], row["data"])
        claimed.append(
            Claimed(
                id=row["id"],
                event_id=event_id,
                partner_id=row["partner_id"],
                event_type=row["type"],
                msg_id=str(event_id),
                event=body,
                attempt_number=row["attempt_count"] + 1,
                lease_deadline=lease_deadline,
                request_id=row["request_id"],
                throttled_count=row["throttled_count"],
            )
        )
    return claimed


async def claim(conn: repo.Connection, worker_id: str, request: ClaimRequest, lease: float) -> list[Any]:
    """Lease what ``request`` (the backlog's bounds) allows for ``lease`` seconds."""
    return await repo.claim_deliveries(
        conn,
        worker=worker_id,
        limit=request.limit,
        lease_seconds=lease,
        excluded_partners=request.excluded,
        allowances=request.allowances,
        default_allowance=request.default_allowance,
    )


async def stats_loop(pool: asyncpg.Pool, interval: float) -> None:
    """Refresh the queue gauges (all workers) every ``interval`` seconds until cancelled."""
    while True:
        try:
            async with pool.acquire() as conn:
                depth, oldest, unfanned = await repo.queue_stats(conn)
                ordering, disabled = await repo.held_stats(conn)
            metrics.HELD.labels("ordering").set(ordering)
            metrics.HELD.labels("disabled").set(disabled)
            metrics.QUEUE_DEPTH.set(depth)
            metrics.OLDEST_DUE_AGE.set(oldest)
            metrics.UNFANNED_EVENTS.set(unfanned)
        except (asyncpg.PostgresError, OSError) as exc:
            logger.debug("stats query failed: %s", exc)
        except Exception:
            logger.exception("unexpected error refreshing the queue gauges")
        await asyncio.sleep(interval)


def periodic_loops(
    settings: DispatcherSettings,
    pool: asyncpg.Pool,
    dsn: str,
    operational: OperationalEvents,
    stopped: asyncio.Event,
    payment_settings: PaymentSettings | None,
) -> list[Coroutine[Any, Any, None]]:
    """The loops beside the dispatch loop, each on its own schedule (the last two can be turned off;
    reconciliation also needs payment_ms's settings to ask the providers with)."""
    loops = [stats_loop(pool, settings.stats_interval_seconds), operational.run(stopped)]
    if settings.maintenance_interval_seconds > 0:
        loops.append(maintenance_loop(pool, settings, stopped))
    if settings.reconcile_interval_seconds > 0 and payment_settings is not None:
        from payment_ms.dispatcher.reconcile import reconcile_loop

        loops.append(reconcile_loop(settings, payment_settings, dsn, stopped))
    return loops


class Dispatcher:
    """Built by ``payment_ms.dispatcher.factory.open_dispatcher`` with everything it uses ready."""

    def __init__(
        self,
        settings: DispatcherSettings,
        *,
        worker_id: str,
        dsn: str,
        pool: asyncpg.Pool,
        directory: PartnerDirectory,
        deliverer: Deliverer,
        operational: OperationalEvents,
        payment_settings: PaymentSettings | None,
        on_ready: Callable[[], None] | None = None,
    ) -> None:
        self.settings = settings
        self.payment_settings = payment_settings
        self.worker_id = worker_id
        self._dsn = dsn
        self._pool = pool
        self._directory = directory
        self._on_ready = on_ready
        self.backlog = Backlog.from_settings(settings)
        self._tasks: set[asyncio.Task[None]] = set()
        self.deliverer = deliverer
        self.operational = operational
        self.ready = asyncio.Event()
        self._wake = asyncio.Event()
        self.recorder = OutcomeRecorder(
            pool, worker_id, on_written=self._wake.set, on_health=deliverer.health_report
        )
        self.listener = NotificationListener(dsn, on_notify=self._notified)
        # Look for unfanned events only when told (NOTIFY), when the last batch was full, or on a timeout:
        # the loop also runs after every batch of results, and that must not cost a fan-out query.
        self._events_waiting = True
        self._stopping = False
        self._stopped = asyncio.Event()  # set with ``_stopping``: background loops wait on it

    # ------------------------------------------------------------------------------------ lifecycle

    def stop(self) -> None:
        """Stop claiming; in-flight deliveries finish, the rest is handed back (SIGTERM calls this)."""
        self._stopping = True
        self._stopped.set()
        self._wake.set()

    def _notified(self) -> None:
        self._events_waiting = True
        self._wake.set()

    def _background(self) -> list[asyncio.Task[None]]:
        parts = self._pool, self._dsn, self.operational, self._stopped, self.payment_settings
        loops = [self.listener.run(), self.recorder.run(), *periodic_loops(self.settings, *parts)]
        return [
            asyncio.create_task(loop, name=f"dispatcher-{getattr(loop, '__qualname__', 'loop')}")
            for loop in loops
        ]

    async def run(self) -> None:
        background = self._background()
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.listener.listening.wait(), LISTEN_START_TIMEOUT_SECONDS)
            self.ready.set()
            if self._on_ready:
                self._on_ready()
            logger.info("dispatcher %s started", self.worker_id)
            await self._dispatch_loop()
        finally:
            await self._drain()
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            logger.info("dispatcher %s stopped", self.worker_id)

    async def _drain(self) -> None:
        self._stopping = True
        self._stopped.set()
        for partner in self.backlog.partners_waiting():
            self._pump(partner)
        try:
            tasks = self._tasks | self.deliverer.background
            if tasks:
                await asyncio.wait(tasks, timeout=self.settings.request_timeout_seconds + 5)
            await self.recorder.flush()
        except Exception:
            # Unrecorded results are lost, not their deliveries: released below, they are sent again.
            logger.exception("could not record the last delivery results at shutdown")
        finally:
            await self._release_all()

    async def _release_all(self) -> None:
        """Hand back everything this worker still leases (a lease that cannot be cleared runs out)."""
        try:
            async with self._pool.acquire() as conn:
                await repo.release_all(conn, self.worker_id)
        except Exception:
            logger.exception("could not hand back this worker's deliveries; their leases will run out")

    # ---------------------------------------------------------------------------------- main loop

    async def _dispatch_loop(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                delay = await self._step()
            except (asyncpg.PostgresError, OSError) as exc:
                logger.warning("database error in the dispatch loop: %s", exc)
                delay = DB_RETRY_SECONDS
            except Exception:
                # e.g. asyncpg.InterfaceError (a connection lost mid-query): the loop must go on.
                logger.exception("unexpected error in the dispatch loop; retrying")
                delay = DB_RETRY_SECONDS
            if self._stopping:
                break
            try:
                await asyncio.wait_for(self._wake.wait(), delay)
            except TimeoutError:
                self._events_waiting = True  # postponed fan-outs fall due without a notification

    async def _step(self) -> float:
        """Fan out and claim once; how long to wait before the next step (0: go on at once)."""
        more_events = False
        if self._events_waiting:
            self._events_waiting = False
            more_events = self._events_waiting = await self.fan_out_once()
        claimed, limit = await self.claim_once()
        if more_events or (limit and claimed == limit):
            return 0.0
        async with self._pool.acquire() as conn:
            due_in = await repo.seconds_until_due(conn, self.backlog.saturated())
        if due_in is None:
            return self.settings.poll_interval_seconds
        return min(self.settings.poll_interval_seconds, max(due_in, MIN_WAIT_SECONDS))

    async def fan_out_once(self) -> bool:
        """Turn a batch of new events into deliveries. True when there may be more right away."""
        async with self._pool.acquire() as conn:
            return await fan_out_once(
                conn,
                self._directory,
                batch_size=self.settings.batch_size,
                max_backoff=self.settings.fan_out_max_backoff_seconds,
            )

    async def claim_once(self) -> tuple[int, int]:
        """Lease a batch of due deliveries and start sending. Returns (claimed, limit asked for)."""
        request = None if self._stopping else self.backlog.claim_request()
        if request is None:
            return 0, 0
        # Taken before the query: the lease runs from the database's now(), which is not earlier, so
        # this local deadline never outlasts the lease.
        deadline = time.monotonic() + self.settings.lease_seconds
        async with self._pool.acquire() as conn:
            rows = await claim(conn, self.worker_id, request, self.settings.lease_seconds)
        touched = set()
        for claimed in claimed_from_rows(rows, deadline):
            self.backlog.add(claimed)
            touched.add(claimed.partner_id)
        metrics.IN_FLIGHT.set(self.backlog.held_total)
        for partner in touched:
            self._pump(partner)
        return len(rows), request.limit

    # ------------------------------------------------------------------------------------ sending

    def _pump(self, partner: Any) -> None:
        now = time.monotonic()
        taken = self.backlog.take(partner, now=now, stopping=self._stopping)
        backoff = self.backlog.paused_for(partner, now)  # a 429: the rest waits out the back-off
        for claimed in taken.release:
            self._finish(Release(claimed, backoff))
        for claimed in taken.send:
            task = asyncio.create_task(self._deliver(claimed))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _lease_lasts(self, claimed: Claimed) -> bool:
        return self.backlog.lease_lasts(claimed, time.monotonic())

    def _finish(self, outcome: Outcome) -> None:
        self.backlog.finish(outcome.claimed.partner_id)
        metrics.IN_FLIGHT.set(self.backlog.held_total)
        self.recorder.add(outcome)

    async def _deliver(self, claimed: Claimed) -> None:
        try:
            outcome = await self.deliverer.attempt(claimed, self._lease_lasts)
        finally:
            self.backlog.sent(claimed.partner_id)
        if isinstance(outcome, Record):
            if outcome.throttled:
                self.backlog.pause(claimed.partner_id, time.monotonic() + outcome.delay)
            else:
                self.backlog.note_attempt(claimed.partner_id, succeeded=outcome.status == "succeeded")
        self._finish(outcome)
        self._pump(claimed.partner_id)
