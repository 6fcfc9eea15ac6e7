"""Payments stuck in ``pending``/``processing`` are re-verified with the provider, so a lost provider
webhook and a payer who never comes back still end in the right state (and emit their events); and
manual-capture holds nobody captured within ``DISPATCHER_AUTHORIZATION_EXPIRY_SECONDS`` (7 days, as
long as a card authorization lasts at Stripe) are released (``payment.canceled``).

Only one dispatcher reconciles at a time: a pass holds a session-level advisory lock on its own
connection from the query for stuck payments until the last of them has been verified (a dispatcher
that finds the lock taken skips its pass). A payment that stays unsettled is asked about again with a
growing pause, so a few abandoned checkouts cannot starve the rest. The same pass deletes expired
idempotency keys (at most once every ``PURGE_EVERY_SECONDS``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable

import asyncpg

from payment_ms.dispatcher import repositories as repo
from payment_ms.dispatcher.settings import DispatcherSettings
from payment_ms.events.source import acting_as
from payment_ms.settings import PaymentSettings
from shared.contracts import EventSource
from shared.db import create_engine

logger = logging.getLogger("paygate.dispatcher.reconcile")

RECONCILE_LOCK = 0x7061_7967  # "payg"
MAX_PAUSE_SECONDS = 3600.0
PURGE_EVERY_SECONDS = 3600.0
# repo.stuck_payments, repo.expired_holds: (conn, *, older_than, excluded, limit) -> payment ids
DueQuery = Callable[..., Awaitable[list[uuid.UUID]]]


class Reconciler:
    def __init__(
        self,
        settings: DispatcherSettings,
        dsn: str,
        *,
        purge: Callable[[], Awaitable[int]] | None = None,
    ) -> None:
        self.settings = settings
        self.dsn = dsn
        self._purge = purge
        self._purged_at: float | None = None  # monotonic time of the last purge
        self._resting_until: dict[uuid.UUID, float] = {}  # monotonic time of the next question
        self._pause: dict[uuid.UUID, float] = {}

    def _resting(self) -> list[uuid.UUID]:
        now = time.monotonic()
        for payment_id in [p for p, until in self._resting_until.items() if until < now - MAX_PAUSE_SECONDS]:
            del self._resting_until[payment_id], self._pause[payment_id]
        return [payment_id for payment_id, until in self._resting_until.items() if until > now]

    async def _due(self, conn: asyncpg.Connection, query: DueQuery, older_than: float) -> list[uuid.UUID]:
        """One batch of ``query``'s payments older than ``older_than`` seconds, but the resting ones."""
        return await query(
            conn, older_than=older_than, excluded=self._resting(), limit=self.settings.reconcile_batch
        )

    async def stuck_payments(self, conn: asyncpg.Connection) -> list[uuid.UUID]:
        return await self._due(conn, repo.stuck_payments, self.settings.reconcile_after_seconds)

    async def expired_holds(self, conn: asyncpg.Connection) -> list[uuid.UUID]:
        return await self._due(conn, repo.expired_holds, self.settings.authorization_expiry_seconds)

    async def run_once(
        self,
        verify: Callable[[uuid.UUID], Awaitable[object]],
        stopping: Callable[[], bool] = lambda: False,
        release: Callable[[uuid.UUID], Awaitable[object]] | None = None,
    ) -> int:
        """Verify every stuck payment once and release every expired hold, under the lock; returns how
        many payments were acted on. The events a verify writes come from reconciliation, those of a
        release from expiry."""
        conn = await asyncpg.connect(self.dsn)
        try:
            if not await repo.try_advisory_lock(conn, RECONCILE_LOCK):
                return 0
            try:
                await self._purge_if_due()
                stuck = await self.stuck_payments(conn)
                acted = await self._each(stuck, verify, stopping, "reconciling", "reconciliation")
                if release is not None:
                    holds = await self.expired_holds(conn)
                    acted += await self._each(
                        holds, release, stopping, "releasing the expired hold of", "expiry"
                    )
                return acted
            finally:
                # Closing the connection would release it too; unlocking keeps the intent explicit.
                with contextlib.suppress(Exception):
                    await repo.advisory_unlock(conn, RECONCILE_LOCK)
        finally:
            try:
                await conn.close(timeout=2)
            except Exception:
                conn.terminate()

    async def _each(
        self,
        payment_ids: list[uuid.UUID],
        act: Callable[[uuid.UUID], Awaitable[object]],
        stopping: Callable[[], bool],
        doing: str,
        source: EventSource,
    ) -> int:
        """``act`` on each payment until ``stopping``, each then resting for a doubled pause; the events
        ``act`` writes come from ``source``."""
        asked = 0
        with acting_as(source):
            for payment_id in payment_ids:
                if stopping():
                    break
                asked += 1
                try:
                    await act(payment_id)
                except Exception as exc:
                    logger.warning("%s payment %s failed: %s", doing, payment_id, exc)
                self._rest(payment_id)
        return asked

    def _rest(self, payment_id: uuid.UUID) -> None:
        pause = min(
            MAX_PAUSE_SECONDS, 2 * self._pause.get(payment_id, self.settings.reconcile_interval_seconds)
        )
        self._pause[payment_id] = pause
        self._resting_until[payment_id] = time.monotonic() + pause

    async def _purge_if_due(self) -> None:
        now = time.monotonic()
        if self._purge is None or (
            self._purged_at is not None and now - self._purged_at < PURGE_EVERY_SECONDS
        ):
            return
        self._purged_at = now
        try:
            purged = await self._purge()
        except Exception as exc:
            logger.warning("purging expired idempotency keys failed: %s", exc)
            return
        if purged:
            logger.info("purged %d expired idempotency keys", purged)


async def reconcile_loop(
    settings: DispatcherSettings, payment_settings: PaymentSettings, dsn: str, stop: asyncio.Event
) -> None:
    """Reconcile every ``reconcile_interval_seconds`` until ``stop`` is set (it ends the wait at once).
    The providers are asked with ``payment_settings`` (payment_ms's, which the entry point built)."""
    from payment_ms.payments.idempotency import purge_expired_keys
    from payment_ms.payments.services import release_expired_hold, verify_payment
    from payment_ms.providers.registry import ProviderRegistry

    engine = create_engine(dsn, pool_size=2, max_overflow=0)
    providers = ProviderRegistry(payment_settings)

    async def purge() -> int:
        async with engine.begin() as conn:
            return await purge_expired_keys(conn, ttl_hours=payment_settings.idempotency_ttl_hours)

    reconciler = Reconciler(settings, dsn, purge=purge)
    try:
        while not stop.is_set():
            await _reconcile_pass(
                reconciler,
                lambda pid: verify_payment(engine, providers, pid),
                stop,
                release=lambda pid: release_expired_hold(engine, providers, pid),
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), settings.reconcile_interval_seconds)
    finally:
        await providers.aclose()
        await engine.dispose()


async def _reconcile_pass(
    reconciler: Reconciler,
    verify: Callable[[uuid.UUID], Awaitable[object]],
    stop: asyncio.Event,
    release: Callable[[uuid.UUID], Awaitable[object]] | None = None,
) -> None:
    try:
        count = await reconciler.run_once(verify, stop.is_set, release=release)
    except (asyncpg.PostgresError, OSError) as exc:
        logger.warning("reconciliation skipped: %s", exc)
    except Exception:
        logger.exception("reconciliation pass failed")
    else:
        if count:
            logger.info("reconciled %d payments (stuck, or holds past their window)", count)
