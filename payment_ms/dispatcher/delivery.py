"""One claimed delivery's attempt, judged: succeeded, retried later, failed, handed back, held or
canceled.

A partner that answers 410 Gone is disabled through the gateway at once, and one the health policy gives
up on (every attempt failed for ``health_failure_span_seconds``, or ``health_max_consecutive_failures``
in a row) too; its pending deliveries are held until it is enabled again. Until the gateway has answered,
its deliveries are handed back rather than sent again. A ``429`` backs the partner off (Retry-After or
``throttle_backoff_seconds``) and counts neither as a retry nor as a failure. A partner's
``max_requests_per_second`` paces its requests from this process.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import aiohttp
import asyncpg

from payment_ms.dispatcher import metrics
from payment_ms.dispatcher import repositories as repo
from payment_ms.dispatcher.outcomes import Cancel, Hold, Outcome, Record, Release
from payment_ms.dispatcher.partners import (
    GATEWAY_SUBSCRIBER_ID,
    GatewayUnavailableError,
    PartnerDirectory,
    Target,
)
from payment_ms.dispatcher.retries import parse_retry_after, retry_delay
from payment_ms.dispatcher.sender import AttemptResult, Claimed, send
from payment_ms.dispatcher.settings import DispatcherSettings
from payment_ms.dispatcher.ssrf import UrlPolicy
from shared.observability import request_id_var

logger = logging.getLogger("paygate.dispatcher")
# One line per attempt (INFO): raise this logger's level to silence it on a busy system.
delivery_logger = logging.getLogger("paygate.dispatcher.deliveries")

GATEWAY_RETRY_SECONDS = 2.0
GONE_REASON = "the endpoint answered 410 Gone"


@dataclass(frozen=True, slots=True)
class Clients:
    """``partners``: guarded by the URL policy (and its resolver); ``internal``: the gateway only."""

    partners: aiohttp.ClientSession
    internal: aiohttp.ClientSession
    policy: UrlPolicy
    timeout: aiohttp.ClientTimeout


class Deliverer:
    def __init__(
        self,
        settings: DispatcherSettings,
        directory: PartnerDirectory,
        clients: Clients,
        pool: asyncpg.Pool,
    ) -> None:
        self._settings = settings
        self._directory = directory
        self._clients = clients
        self._pool = pool
        self.background: set[asyncio.Task[None]] = set()  # partners being disabled (shutdown waits)
        self._gone: set[UUID] = set()  # partners being disabled (410, health) until the gateway answers
        self._next_slot: dict[UUID, float] = {}  # rate-limited partners: when the next request may start

    async def attempt(self, claimed: Claimed, lease_lasts: Callable[[Claimed], bool]) -> Outcome:
        """Never raises: an unexpected error hands the delivery back."""
        # This task's own context: its log records carry the request that caused the event.
        request_id_var.set(claimed.request_id)
        try:
            return await self._attempt(claimed, lease_lasts)
        except GatewayUnavailableError as exc:
            logger.warning("partner list unavailable, delivery %s handed back: %s", claimed.id, exc)
        except Exception:
            logger.exception("unexpected error delivering %s; handed back", claimed.id)
        return Release(claimed, GATEWAY_RETRY_SECONDS)

    async def _attempt(self, claimed: Claimed, lease_lasts: Callable[[Claimed], bool]) -> Outcome:
        targets = await self._directory.targets(claimed.event_type)
        target = targets.get(claimed.partner_id)
        if claimed.partner_id in self._gone:
            return Release(claimed, GATEWAY_RETRY_SECONDS)
        if target is None:
            return Cancel(claimed, "the partner is deleted or no longer subscribed to this event type")
        if not target.enabled:
            return Hold(claimed)
        if target.max_requests_per_second:
            await self._pace(target.id, target.max_requests_per_second)
        if not lease_lasts(claimed):  # the partner lookup (or the pacing) took part of the lease
            return Release(claimed, 0.0)
        outcome = self.judge(await self._send(claimed, target))
        outcome.ordered = target.ordered
        log_attempt(outcome)
        return outcome

    async def _pace(self, partner: UUID, rate: int) -> None:
        """Wait for this partner's next request slot: at most ``rate`` requests start per second."""
        now = time.monotonic()
        start = max(now, self._next_slot.get(partner, now))
        self._next_slot[partner] = start + 1.0 / rate
        if start > now:
            await asyncio.sleep(start - now)

    async def _send(self, claimed: Claimed, target: Target) -> AttemptResult:
        clients = self._clients
        if target.id == GATEWAY_SUBSCRIBER_ID:  # operator-configured: no partner URL policy, no guard
            internal = clients.internal
            return await send(internal, None, claimed, target, clients.timeout, forward_request_id=True)
        return await send(clients.partners, clients.policy, claimed, target, clients.timeout)

    def judge(self, result: AttemptResult) -> Record:
        metrics.ATTEMPT_SECONDS.observe(result.duration_ms / 1000)
        code = result.status_code
        if code is not None and 200 <= code < 300:
            metrics.DELIVERIES.labels("succeeded").inc()
            return Record(result, "succeeded", 0.0)
        if code == 410:
            metrics.DELIVERIES.labels("gone").inc()
            metrics.ENDPOINTS_DISABLED.labels("gone").inc()
            self.disable_partner(result.claimed.partner_id, GONE_REASON)
            return Record(result, "failed", 0.0)
        if code is not None and result.error is None:
            result.error = f"HTTP {code}"
        settings = self._settings
        retry_after = parse_retry_after(result.retry_after, time.time())
        if code == 429:
            metrics.DELIVERIES.labels("throttled").inc()
            wait = settings.throttle_backoff_seconds
            if retry_after is not None:
                wait = min(retry_after, settings.max_retry_after_seconds)
            return Record(result, "pending", wait, throttled=True)
        delay = retry_delay(
            result.claimed.attempt_number - result.claimed.throttled_count,
            settings.retry_schedule_seconds,
            jitter=settings.retry_jitter,
            retry_after=retry_after,
            max_retry_after=settings.max_retry_after_seconds,
        )
        if delay is None:
            metrics.DELIVERIES.labels("failed").inc()
            return Record(result, "failed", 0.0)
        metrics.DELIVERIES.labels("retrying").inc()
        return Record(result, "pending", delay)

    def disable_partner(self, partner_id: UUID, reason: str) -> None:
        """Disable a partner through the gateway (in the background); its deliveries are handed back
        meanwhile. Once disabled they are held until it is enabled again."""
        if partner_id in self._gone:
            return
        self._gone.add(partner_id)
        task = asyncio.create_task(self._disable_partner(partner_id, reason))
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    def health_report(self, rows: list[Any]) -> None:
        """The health rows of partners that failed in a written batch: disable those past a threshold."""
        settings = self._settings
        span = settings.health_failure_span_seconds
        most = settings.health_max_consecutive_failures
        now = datetime.now(UTC)
        for row in rows:
            since = row["failing_since"]
            if most and row["consecutive_failures"] >= most:
                reason = f"{row['consecutive_failures']} attempts in a row failed (health policy)"
            elif span and since is not None and (now - since).total_seconds() >= span:
                reason = f"every attempt failed since {since.isoformat(timespec='seconds')} (health policy)"
            else:
                continue
            metrics.ENDPOINTS_DISABLED.labels("health").inc()
            self.disable_partner(row["partner_id"], reason)

    async def _disable_partner(self, partner_id: UUID, reason: str) -> None:
        try:
            await self._directory.disable(partner_id, reason)
        except GatewayUnavailableError as exc:
            # The next failure (or 410) from this partner asks again.
            logger.warning("could not disable partner %s: %s", partner_id, exc)
            return
        finally:
            self._gone.discard(partner_id)
        logger.warning("partner %s disabled: %s", partner_id, reason)
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                await repo.hold_partner(conn, partner_id)
                await repo.forget_health(conn, partner_id)
        except Exception as exc:
            # Deliveries claimed later find the partner disabled and are held then.
            logger.warning("could not hold the deliveries of partner %s: %s", partner_id, exc)


def log_attempt(outcome: Record) -> None:
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
