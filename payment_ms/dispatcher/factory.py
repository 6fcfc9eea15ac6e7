"""Builds a dispatcher: its database pool, its HTTP clients and its partner directory exist before any of
its loops starts, and are closed when it has stopped."""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
from collections.abc import AsyncIterator, Callable

import aiohttp
import asyncpg

from payment_ms.dispatcher.delivery import Clients, Deliverer
from payment_ms.dispatcher.operational import OperationalEvents
from payment_ms.dispatcher.partners import PartnerDirectory
from payment_ms.dispatcher.settings import DispatcherSettings
from payment_ms.dispatcher.ssrf import GuardedResolver, UrlPolicy
from payment_ms.dispatcher.worker import Dispatcher
from payment_ms.settings import PaymentSettings
from shared.db import asyncpg_dsn


async def _roll_back_if_open(conn: asyncpg.Connection) -> None:
    """What the pool does to a connection handed back. asyncpg's default sends RESET ALL, UNLISTEN,
    CLOSE ALL and an advisory unlock on every release (a round trip: twice per event in the latency
    scenario, BENCHMARKS.md issue 16); the dispatcher sets no session state on pooled connections (LISTEN
    and the reconciler's advisory lock have connections of their own), so only a transaction left open
    is rolled back."""
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


@contextlib.asynccontextmanager
async def _clients(settings: DispatcherSettings, allow_loopback: bool) -> AsyncIterator[Clients]:
    policy = UrlPolicy(settings.allowed_hosts, allow_loopback=allow_loopback)
    connector = aiohttp.TCPConnector(
        limit=settings.max_in_flight, resolver=GuardedResolver(policy), ttl_dns_cache=10
    )
    async with (
        aiohttp.ClientSession() as internal,
        aiohttp.ClientSession(
            connector=connector, auto_decompress=False, skip_auto_headers=("Accept-Encoding",)
        ) as partners,
    ):
        timeout = aiohttp.ClientTimeout(total=settings.request_timeout_seconds)
        yield Clients(partners=partners, internal=internal, policy=policy, timeout=timeout)


@contextlib.asynccontextmanager
async def open_dispatcher(
    settings: DispatcherSettings,
    *,
    database_url: str,
    service_token: str,
    allow_loopback: bool,
    payment_settings: PaymentSettings | None,
    on_ready: Callable[[], None] | None = None,
) -> AsyncIterator[Dispatcher]:
    """``async with open_dispatcher(...) as d: await d.run()`` (``d.stop()`` ends ``run``).
    ``payment_settings``: payment_ms's, which reconciliation asks the providers with (None: no
    reconciliation, whatever ``reconcile_interval_seconds`` says)."""
    dsn = asyncpg_dsn(database_url)
    async with (
        asyncpg.create_pool(dsn, min_size=2, max_size=6, reset=_roll_back_if_open) as pool,
        _clients(settings, allow_loopback) as clients,
    ):
        directory = PartnerDirectory(
            clients.internal,
            settings.gateway_url,
            service_token,
            ttl=settings.partner_cache_ttl_seconds,
            timeout=settings.gateway_timeout_seconds,
        )
        yield Dispatcher(
            settings,
            worker_id=settings.worker_id or default_worker_id(),
            dsn=dsn,
            pool=pool,
            directory=directory,
            deliverer=Deliverer(settings, directory, clients, pool),
            operational=OperationalEvents(settings, directory, clients.internal, pool),
            payment_settings=payment_settings,
            on_ready=on_ready,
        )
