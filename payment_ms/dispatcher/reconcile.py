"""Payments stuck in ``pending``/``processing`` are re-verified with the provider, so a lost provider
webhook and a payer who never comes back still end in the right state (and emit their events).

Only one dispatcher reconciles at a time (a transaction-scoped advisory lock); a payment that stays
unsettled is asked about again with a growing pause, so a few abandoned checkouts cannot starve the rest.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable

import asyncpg

from payment_ms.dispatcher.settings import DispatcherSettings
from shared.db import create_engine

logger = logging.getLogger("paygate.dispatcher.reconcile")

RECONCILE_LOCK = 0x7061_7967  # "payg"
MAX_PAUSE_SECONDS = 3600.0

_STUCK = """
SELECT id FROM payments
WHERE status IN ('pending', 'processing') AND updated_at < now() - make_interval(secs => $1::float8)
  AND NOT (id = ANY($2::uuid[]))
ORDER BY updated_at
LIMIT $3
"""


class Reconciler:
    def __init__(self, settings: DispatcherSettings, dsn: str) -> None:
        self.settings = settings
        self.dsn = dsn
        self._resting_until: dict[uuid.UUID, float] = {}  # monotonic time of the next question
        self._pause: dict[uuid.UUID, float] = {}

    def _resting(self) -> list[uuid.UUID]:
        now = time.monotonic()
        for payment_id in [p for p, until in self._resting_until.items() if until < now - MAX_PAUSE_SECONDS]:
            del self._resting_until[payment_id], self._pause[payment_id]
        return [payment_id for payment_id, until in self._resting_until.items() if until > now]

    async def stuck_payments(self, conn: asyncpg.Connection) -> list[uuid.UUID]:
        async with conn.transaction():
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", RECONCILE_LOCK):
                return []
            rows = await conn.fetch(
                _STUCK, self.settings.reconcile_after_seconds, self._resting(), self.settings.reconcile_batch
            )
        return [row["id"] for row in rows]

    async def run_once(self, verify: Callable[[uuid.UUID], Awaitable[object]]) -> int:
        """Verify every stuck payment once; returns how many were asked about."""
        conn = await asyncpg.connect(self.dsn)
        try:
            ids = await self.stuck_payments(conn)
        finally:
            await conn.close()
        for payment_id in ids:
            try:
                await verify(payment_id)
            except Exception as exc:
                logger.warning("reconciling payment %s failed: %s", payment_id, exc)
            pause = min(
                MAX_PAUSE_SECONDS, 2 * self._pause.get(payment_id, self.settings.reconcile_interval_seconds)
            )
            self._pause[payment_id] = pause
            self._resting_until[payment_id] = time.monotonic() + pause
        return len(ids)


async def reconcile_loop(settings: DispatcherSettings, dsn: str, stopping: Callable[[], bool]) -> None:
    from payment_ms.payments.services import verify_payment

    engine = create_engine(dsn, pool_size=2, max_overflow=0)
    reconciler = Reconciler(settings, dsn)
    try:
        while not stopping():
            try:
                count = await reconciler.run_once(lambda pid: verify_payment(engine, pid))
                if count:
                    logger.info("re-verified %d stuck payments", count)
            except (asyncpg.PostgresError, OSError) as exc:
                logger.warning("reconciliation skipped: %s", exc)
            await asyncio.sleep(settings.reconcile_interval_seconds)
    finally:
        await engine.dispose()
