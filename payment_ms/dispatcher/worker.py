"""The dispatcher loop: fan events out into deliveries, claim due deliveries, send, record, retry.

One process holds up to ``max_in_flight`` deliveries, at most ``backlog_limit(settings)`` of one partner
(``per_partner_concurrency`` of them on the wire), so a partner that hangs only ever occupies its own
slots. The backlog is decoupled from the wire concurrency: a fast partner is claimed a full batch at a
time; a partner whose last attempt failed keeps two rounds (``failing_backlog_limit``). A delivery is
sent only while enough of its lease is left for the request to finish (checked when it leaves the
backlog and again right before the request); otherwise it is handed back, so however long it waited
behind a hanging partner's requests it is never sent after its lease ran out.
Results are written in batches by one task; ``LISTEN payment_events`` wakes the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import aiohttp
import asyncpg

from payment_ms.dispatcher import metrics
from payment_ms.dispatcher import repositories as repo
from payment_ms.dispatcher.partners import (
    GATEWAY_SUBSCRIBER_ID,
    GatewayUnavailableError,
    PartnerDirectory,
    Target,
)
from payment_ms.dispatcher.retries import parse_retry_after, retry_delay
from payment_ms.dispatcher.sender import AttemptResult, Claimed, EventBody, send
from payment_ms.dispatcher.settings import LEASE_MARGIN_SECONDS, DispatcherSettings
from payment_ms.dispatcher.ssrf import GuardedResolver, UrlPolicy
from shared.db import asyncpg_dsn
from shared.observability import request_id_var

logger = logging.getLogger("paygate.dispatcher")
# One line per attempt (INFO): raise this logger's level to silence it on a busy system.
delivery_logger = logging.getLogger("paygate.dispatcher.deliveries")

NOTIFY_CHANNEL = "payment_events"
GATEWAY_RETRY_SECONDS = 2.0
DB_RETRY_SECONDS = 1.0
MIN_WAIT_SECONDS = 0.01
LISTEN_START_TIMEOUT_SECONDS = 10.0
GONE_REASON = "the endpoint answered 410 Gone"
MAX_FAILING_TRACKED = 10_000


def backlog_limit(settings: DispatcherSettings) -> int:
    """Deliveries of one partner this process holds at most (on the wire or waiting their turn)."""
    return max(2 * settings.per_partner_concurrency, settings.batch_size)


def failing_backlog_limit(settings: DispatcherSettings) -> int:
    """The same for a partner whose last attempt failed: a hanging partner's waiting deliveries would
    only hold their leases (and be handed back and claimed again), so it keeps two rounds at most."""
    return 2 * settings.per_partner_concurrency


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass(slots=True)
class _Release:
    claimed: Claimed
    delay: float


@dataclass(slots=True)
class _Cancel:
    claimed: Claimed
    reason: str


@dataclass(slots=True)
class _Record:
    result: AttemptResult
    status: str
    delay: float


_Outcome = _Release | _Cancel | _Record


class Dispatcher:
    def __init__(
        self,
        settings: DispatcherSettings,
        *,
        database_url: str,
        service_token: str,
        allow_loopback: bool,
        on_ready: Callable[[], None] | None = None,
    ) -> None:
        self.settings = settings
        self.worker_id = settings.worker_id or default_worker_id()
        self._dsn = asyncpg_dsn(database_url)
        self._service_token = service_token
        self._policy = UrlPolicy(settings.allowed_hosts, allow_loopback=allow_loopback)
        self._timeout = aiohttp.ClientTimeout(total=settings.request_timeout_seconds)
        self._backlog_limit = backlog_limit(settings)
        self._failing_backlog_limit = failing_backlog_limit(settings)
        self._failing: set[UUID] = set()  # partners whose last attempt did not succeed
        self._lease_needed = settings.request_timeout_seconds + LEASE_MARGIN_SECONDS
        self._on_ready = on_ready
        self.ready = asyncio.Event()
        self._wake = asyncio.Event()
        # Look for unfanned events only when told (NOTIFY), when the last batch was full, or on a timeout:
        # the loop also runs after every batch of results, and that must not cost a fan-out query.
        self._events_waiting = True
        self._listening = asyncio.Event()
        self._stopping = False
        self._stopped = asyncio.Event()  # set with ``_stopping``: background loops wait on it
        self._flush = asyncio.Event()
        self._flush_lock = asyncio.Lock()  # one writer at a time: shutdown waits for the last batch
        self._outcomes: list[_Outcome] = []
        self._queues: dict[UUID, deque[Claimed]] = defaultdict(deque)
        self._active: dict[UUID, int] = defaultdict(int)
        self._held: dict[UUID, int] = defaultdict(int)
        self._held_total = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._gone: set[UUID] = set()  # partners that answered 410 while the gateway disables them
        self._pool: asyncpg.Pool | None = None
        self._directory: PartnerDirectory | None = None
        self._session: aiohttp.ClientSession | None = None
        self._internal_session: aiohttp.ClientSession | None = None

    # ------------------------------------------------------------------------------------ lifecycle

    def stop(self) -> None:
        """Stop claiming; in-flight deliveries finish, the rest is handed back (SIGTERM calls this)."""
        self._stopping = True
        self._stopped.set()
        self._wake.set()

    async def run(self) -> None:
        async with contextlib.AsyncExitStack() as stack:
            self._pool = await asyncpg.create_pool(self._dsn, min_size=2, max_size=6)
            stack.push_async_callback(self._pool.close)
            gateway_session = self._internal_session = aiohttp.ClientSession()
            stack.push_async_callback(gateway_session.close)
            connector = aiohttp.TCPConnector(
                limit=self.settings.max_in_flight, resolver=GuardedResolver(self._policy), ttl_dns_cache=10
            )
            self._session = aiohttp.ClientSession(
                connector=connector, auto_decompress=False, skip_auto_headers=("Accept-Encoding",)
            )
            stack.push_async_callback(self._session.close)
            self._directory = PartnerDirectory(
                gateway_session,
                self.settings.gateway_url,
                self._service_token,
                ttl=self.settings.partner_cache_ttl_seconds,
                timeout=self.settings.gateway_timeout_seconds,
            )
            background = [
                asyncio.create_task(self._listen(), name="dispatcher-listen"),
                asyncio.create_task(self._record_loop(), name="dispatcher-record"),
                asyncio.create_task(self._stats_loop(), name="dispatcher-stats"),
            ]
            if self.settings.reconcile_interval_seconds > 0:
                from payment_ms.dispatcher.reconcile import reconcile_loop

                background.append(
                    asyncio.create_task(
                        reconcile_loop(self.settings, self._dsn, self._stopped),
                        name="dispatcher-reconcile",
                    )
                )
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._listening.wait(), LISTEN_START_TIMEOUT_SECONDS)
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
        for partner in list(self._queues):
            self._pump(partner)
        try:
            if self._tasks:
                await asyncio.wait(self._tasks, timeout=self.settings.request_timeout_seconds + 5)
            await self._flush_outcomes()
        except Exception:
            # Unrecorded results are lost, not their deliveries: released below, they are sent again.
            logger.exception("could not record the last delivery results at shutdown")
        finally:
            await self._release_all()

    async def _release_all(self) -> None:
        """Hand back everything this worker still leases (a lease that cannot be cleared runs out)."""
        assert self._pool is not None
        try:
            async with self._pool.acquire() as conn:
                await repo.release_all(conn, self.worker_id)
        except Exception:
            logger.exception("could not hand back this worker's deliveries; their leases will run out")

    # ---------------------------------------------------------------------------------- main loop

    async def _dispatch_loop(self) -> None:
        assert self._pool is not None
        while not self._stopping:
            self._wake.clear()
            try:
                more_events = False
                if self._events_waiting:
                    self._events_waiting = False
                    more_events = self._events_waiting = await self.fan_out_once()
                claimed, limit = await self.claim_once()
                if more_events or (limit and claimed == limit):
                    continue
                delay = self.settings.poll_interval_seconds
                async with self._pool.acquire() as conn:
                    due_in = await repo.seconds_until_due(conn, self._saturated())
                if due_in is not None:
                    delay = min(delay, max(due_in, MIN_WAIT_SECONDS))
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

    async def fan_out_once(self) -> bool:
        """Turn a batch of new events into deliveries. True when there may be more right away."""
        assert self._pool is not None and self._directory is not None
        directory = self._directory
        limit = self.settings.batch_size
        async with self._pool.acquire() as conn, conn.transaction():
            events = await repo.claim_events(conn, limit)
            if not events:
                return False
            types = sorted({event["type"] for event in events})
            answers = await asyncio.gather(*(directory.targets(t) for t in types), return_exceptions=True)
            lists = {}
            for event_type, answer in zip(types, answers, strict=True):
                if isinstance(answer, GatewayUnavailableError):
                    logger.warning("partner list for %s unavailable: %s", event_type, answer)
                elif isinstance(answer, BaseException):
                    raise answer
                else:
                    lists[event_type] = answer
            rows = [
                (event["id"], target.id, target.url)
                for event in events
                if event["type"] in lists
                for target in lists[event["type"]].values()
            ]
            await repo.insert_deliveries(conn, rows)
            await repo.mark_fanned_out(conn, [e["id"] for e in events if e["type"] in lists])
            await repo.postpone_fan_out(
                conn,
                [e["id"] for e in events if e["type"] not in lists],
                self.settings.fan_out_max_backoff_seconds,
            )
        return len(events) == limit and bool(lists)

    def _limit_for(self, partner: UUID) -> int:
        return self._failing_backlog_limit if partner in self._failing else self._backlog_limit

    def _room(self) -> dict[UUID, int]:
        """How many more deliveries each partner this process knows of may have claimed (0: none)."""
        known = set(self._held) | self._failing
        return {p: max(0, self._limit_for(p) - self._held.get(p, 0)) for p in known}

    def _saturated(self) -> list[UUID]:
        return [partner for partner, room in self._room().items() if room == 0]

    async def claim_once(self) -> tuple[int, int]:
        """Lease a batch of due deliveries and start sending. Returns (claimed, limit asked for)."""
        assert self._pool is not None
        capacity = self.settings.max_in_flight - self._held_total
        limit = min(self.settings.batch_size, capacity)
        if limit <= 0 or self._stopping:
            return 0, 0
        room = self._room()
        saturated = [p for p, left in room.items() if left == 0]
        allowances = {p: left for p, left in room.items() if left > 0}
        # Taken before the query: the lease runs from the database's now(), which is not earlier, so
        # this local deadline never outlasts the lease.
        deadline = time.monotonic() + self.settings.lease_seconds
        async with self._pool.acquire() as conn:
            rows = await repo.claim_deliveries(
                conn,
                worker=self.worker_id,
                limit=limit,
                lease_seconds=self.settings.lease_seconds,
                excluded_partners=saturated,
                allowances=allowances,
                default_allowance=self._backlog_limit,
            )
        bodies: dict[UUID, EventBody] = {}
        touched = set()
        for row in rows:
            event_id = row["event_id"]
            body = bodies.get(event_id)
            if body is None:
                body = bodies[event_id] = EventBody(row["type"], row["created_at"], row["data"])
            claimed = Claimed(
                id=row["id"],
                event_id=event_id,
                partner_id=row["partner_id"],
                event_type=row["type"],
                msg_id=str(event_id),
                event=body,
                attempt_number=row["attempt_count"] + 1,
                lease_deadline=deadline,
                request_id=row["request_id"],
            )
            self._queues[claimed.partner_id].append(claimed)
            self._held[claimed.partner_id] += 1
            self._held_total += 1
            touched.add(claimed.partner_id)
        metrics.IN_FLIGHT.set(self._held_total)
        for partner in touched:
            self._pump(partner)
        return len(rows), limit

    # ------------------------------------------------------------------------------------ sending

    def _pump(self, partner: UUID) -> None:
        queue = self._queues.get(partner)
        while queue and (self._stopping or self._active[partner] < self.settings.per_partner_concurrency):
            claimed = queue.popleft()
            if self._stopping or not self._lease_lasts(claimed):
                self._finish(_Release(claimed, 0.0))
                continue
            self._active[partner] += 1
            task = asyncio.create_task(self._deliver(claimed))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if queue is not None and not queue:
            del self._queues[partner]

    def _lease_lasts(self, claimed: Claimed) -> bool:
        """Enough of the lease is left for a whole request (and a margin) to end inside it."""
        return claimed.lease_deadline - time.monotonic() >= self._lease_needed

    def _finish(self, outcome: _Outcome) -> None:
        partner = (outcome.result.claimed if isinstance(outcome, _Record) else outcome.claimed).partner_id
        self._held[partner] -= 1
        if self._held[partner] <= 0:
            del self._held[partner]
        self._held_total -= 1
        metrics.IN_FLIGHT.set(self._held_total)
        self._outcomes.append(outcome)
        self._flush.set()

    async def _deliver(self, claimed: Claimed) -> None:
        assert self._directory is not None and self._session is not None
        # This task's own context: its log records carry the request that caused the event.
        request_id_var.set(claimed.request_id)
        outcome: _Outcome
        try:
            targets = await self._directory.targets(claimed.event_type)
            target = targets.get(claimed.partner_id)
            if claimed.partner_id in self._gone:
                outcome = _Release(claimed, GATEWAY_RETRY_SECONDS)
            elif target is None:
                outcome = _Cancel(claimed, "the partner is disabled or no longer subscribed")
            elif not self._lease_lasts(claimed):  # the partner lookup took part of the lease
                outcome = _Release(claimed, 0.0)
            else:
                result = await self._send(claimed, target)
                outcome = self._judge(result)
                self._log_attempt(outcome)
        except GatewayUnavailableError as exc:
            logger.warning("partner list unavailable, delivery %s handed back: %s", claimed.id, exc)
            outcome = _Release(claimed, GATEWAY_RETRY_SECONDS)
        except Exception:
            logger.exception("unexpected error delivering %s; handed back", claimed.id)
            outcome = _Release(claimed, GATEWAY_RETRY_SECONDS)
        finally:
            self._active[claimed.partner_id] -= 1
        self._finish(outcome)
        self._pump(claimed.partner_id)

    async def _send(self, claimed: Claimed, target: Target) -> AttemptResult:
        assert self._session is not None and self._internal_session is not None
        if target.id == GATEWAY_SUBSCRIBER_ID:  # operator-configured: no partner URL policy, no guard
            return await send(
                self._internal_session, None, claimed, target, self._timeout, forward_request_id=True
            )
        return await send(self._session, self._policy, claimed, target, self._timeout)

    def _judge(self, result: AttemptResult) -> _Record:
        metrics.ATTEMPT_SECONDS.observe(result.duration_ms / 1000)
        code = result.status_code
        if code is not None and 200 <= code < 300:
            metrics.DELIVERIES.labels("succeeded").inc()
            self._failing.discard(result.claimed.partner_id)
            return _Record(result, "succeeded", 0.0)
        if len(self._failing) < MAX_FAILING_TRACKED:
            self._failing.add(result.claimed.partner_id)
        if code == 410:
            metrics.DELIVERIES.labels("gone").inc()
            self._gone.add(result.claimed.partner_id)
            task = asyncio.create_task(self._disable_partner(result.claimed.partner_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return _Record(result, "failed", 0.0)
        if code is not None and result.error is None:
            result.error = f"HTTP {code}"
        delay = retry_delay(
            result.claimed.attempt_number,
            self.settings.retry_schedule_seconds,
            jitter=self.settings.retry_jitter,
            retry_after=parse_retry_after(result.retry_after, time.time()),
            max_retry_after=self.settings.max_retry_after_seconds,
        )
        if delay is None:
            metrics.DELIVERIES.labels("failed").inc()
            return _Record(result, "failed", 0.0)
        metrics.DELIVERIES.labels("retrying").inc()
        return _Record(result, "pending", delay)

    @staticmethod
    def _log_attempt(outcome: _Record) -> None:
        if not delivery_logger.isEnabledFor(logging.INFO):
            return
        r = outcome.result
        status = outcome.status if outcome.status != "pending" else "retrying"
        delivery_logger.info(
            "delivery %s of event %s to partner %s: attempt %d, %s, %s in %d ms",
            r.claimed.id,
            r.claimed.event_id,
            r.claimed.partner_id,
            r.claimed.attempt_number,
            r.status_code if r.status_code is not None else (r.error or "no answer"),
            status,
            r.duration_ms,
            extra={
                "delivery_id": str(r.claimed.id),
                "event_id": str(r.claimed.event_id),
                "partner_id": str(r.claimed.partner_id),
                "attempt": r.claimed.attempt_number,
                "status_code": r.status_code,
                "outcome": status,
                "duration_ms": r.duration_ms,
                "error": r.error,
            },
        )

    async def _disable_partner(self, partner_id: UUID) -> None:
        assert self._directory is not None and self._pool is not None
        try:
            await self._directory.disable(partner_id, GONE_REASON)
        except GatewayUnavailableError as exc:
            # The next 410 from this partner asks again.
            logger.warning("could not disable partner %s: %s", partner_id, exc)
            return
        finally:
            self._gone.discard(partner_id)
        logger.info("partner %s disabled after 410 Gone", partner_id)
        try:
            async with self._pool.acquire() as conn:
                await repo.cancel_partner(conn, partner_id, "partner disabled: " + GONE_REASON)
        except Exception as exc:
            logger.warning("could not cancel deliveries of partner %s: %s", partner_id, exc)

    # ---------------------------------------------------------------------------------- recording

    async def _record_loop(self) -> None:
        while True:
            await self._flush.wait()
            self._flush.clear()
            try:
                await self._flush_outcomes()
            except (asyncpg.PostgresError, OSError) as exc:
                logger.warning("could not record delivery results, retrying: %s", exc)
            except Exception:
                # Results stay queued (``_write_outcomes`` puts them back): this loop must never die.
                logger.exception("unexpected error recording delivery results; retrying")
            else:
                continue
            await asyncio.sleep(DB_RETRY_SECONDS)
            self._flush.set()

    async def _flush_outcomes(self) -> None:
        async with self._flush_lock:
            await self._write_outcomes()

    async def _write_outcomes(self) -> None:
        if not self._outcomes:
            return
        assert self._pool is not None
        batch, self._outcomes = self._outcomes, []
        records: list[tuple[Any, ...]] = []
        releases: dict[float, list[UUID]] = defaultdict(list)
        cancels: dict[str, list[UUID]] = defaultdict(list)
        for outcome in batch:
            if isinstance(outcome, _Record):
                r = outcome.result
                records.append(
                    (
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
                )
            elif isinstance(outcome, _Release):
                metrics.DELIVERIES.labels("released").inc()
                releases[outcome.delay].append(outcome.claimed.id)
            else:
                metrics.DELIVERIES.labels("canceled").inc()
                cancels[outcome.reason].append(outcome.claimed.id)
        try:
            async with self._pool.acquire() as conn:
                if not releases and not cancels:  # the common case: one statement, no BEGIN/COMMIT
                    await repo.record_attempts(conn, self.worker_id, records)
                else:
                    async with conn.transaction():
                        await repo.record_attempts(conn, self.worker_id, records)
                        for delay, ids in releases.items():
                            await repo.release(conn, self.worker_id, ids, delay)
                        for reason, ids in cancels.items():
                            await repo.cancel(conn, self.worker_id, ids, reason)
        except BaseException:
            self._outcomes[:0] = batch
            raise
        # Slots were freed and retries may have been scheduled: the loop looks again.
        self._wake.set()

    # --------------------------------------------------------------------------------- background

    async def _listen(self) -> None:
        """A dedicated connection LISTENs; it is reopened when lost (the poll covers the gap)."""
        while True:
            lost = asyncio.Event()
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self._dsn)
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                await conn.add_listener(NOTIFY_CHANNEL, self._notified)
                self._listening.set()
                self._notified()  # anything committed while we were not listening
                await lost.wait()
                logger.warning("LISTEN connection lost; reconnecting")
            except (asyncpg.PostgresError, OSError) as exc:
                logger.warning("cannot LISTEN (%s); polling until it works", exc)
                await asyncio.sleep(DB_RETRY_SECONDS)
            except Exception:
                logger.exception("unexpected error in the LISTEN connection; polling until it works")
                await asyncio.sleep(DB_RETRY_SECONDS)
            finally:
                if conn is not None and not conn.is_closed():
                    with contextlib.suppress(Exception):
                        await asyncio.shield(conn.close(timeout=2))

    def _notified(self, *_args: object) -> None:
        self._events_waiting = True
        self._wake.set()

    async def _stats_loop(self) -> None:
        assert self._pool is not None
        while True:
            try:
                async with self._pool.acquire() as conn:
                    depth, oldest, unfanned = await repo.queue_stats(conn)
                metrics.QUEUE_DEPTH.set(depth)
                metrics.OLDEST_DUE_AGE.set(oldest)
                metrics.UNFANNED_EVENTS.set(unfanned)
            except (asyncpg.PostgresError, OSError) as exc:
                logger.debug("stats query failed: %s", exc)
            except Exception:
                logger.exception("unexpected error refreshing the queue gauges")
            await asyncio.sleep(self.settings.stats_interval_seconds)
