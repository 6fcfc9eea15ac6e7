"""``LISTEN`` on the outbox channel, on a dedicated connection reopened when lost (the poll covers gaps)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import asyncpg

from shared.outbox import NOTIFY_CHANNEL

logger = logging.getLogger("paygate.dispatcher")

RECONNECT_SECONDS = 1.0


class NotificationListener:
    """Calls ``on_notify`` for every notification, and once each time listening (re)starts: anything
    committed while nobody listened is looked for then. ``listening`` is set once it first listens."""

    def __init__(self, dsn: str, on_notify: Callable[[], None]) -> None:
        self._dsn = dsn
        self._on_notify = on_notify
        self.listening = asyncio.Event()

    def _notified(self, *_args: object) -> None:
        self._on_notify()

    async def run(self) -> None:
        while True:
            try:
                await self._listen_until_lost()
                logger.warning("LISTEN connection lost; reconnecting")
            except (asyncpg.PostgresError, OSError) as exc:
                logger.warning("cannot LISTEN (%s); polling until it works", exc)
                await asyncio.sleep(RECONNECT_SECONDS)
            except Exception:
                logger.exception("unexpected error in the LISTEN connection; polling until it works")
                await asyncio.sleep(RECONNECT_SECONDS)

    async def _listen_until_lost(self) -> None:
        lost = asyncio.Event()
        conn: asyncpg.Connection | None = None
        try:
            conn = await asyncpg.connect(self._dsn)
            conn.add_termination_listener(lambda _c: lost.set())
            await conn.add_listener(NOTIFY_CHANNEL, self._notified)
            self.listening.set()
            self._on_notify()  # anything committed while we were not listening
            await lost.wait()
        finally:
            if conn is not None and not conn.is_closed():
                with contextlib.suppress(Exception):
                    await asyncio.shield(conn.close(timeout=2))
