"""Scenario "console": the operator console's pages over 100,000 payments and 1,000,000 deliveries.

Seeded in SQL (``generate_series``): payments spread over the last 20 hours, one event each, a
delivery of every event to each of ten partners and one attempt per delivery, and the partners'
per-minute rollups of those attempts (what the dispatcher's outcome recorder keeps). Each page is
then fetched sequentially by a signed-in admin; the report gives requests per second and p50/p99
per page."""

from __future__ import annotations

import asyncio
import os
import statistics
import time
import uuid
from dataclasses import dataclass

import asyncpg
import httpx
from sqlalchemy import text

from bench.report import Report, Result
from bench.stack import Stack
from gateway.portal.services import issue_api_token
from gateway.web.sessions import CONSOLE_COOKIE, PORTAL_COOKIE, start_console_session, start_portal_session
from shared.db import asyncpg_dsn, create_engine
from shared.models import LATENCY_BOUNDS_MS

PARTNERS = 10

SEED_SQL = [
    """INSERT INTO users (id, email, password_hash, role)
       VALUES ($1, 'console-bench@bench.paygate.test', 'x', 'admin')""",
    # registered a day ago: the pull feed serves their events from their registration on
    """INSERT INTO partners (name, url, event_types, secret, created_at)
       SELECT 'console-' || i, 'https://p' || i || '.example/h',
              ARRAY['payment.succeeded']::varchar[], 'whsec_x', now() - interval '1 day'
       FROM generate_series(1, {partners}) i""",
    # The seeded payments' events only: payments of the other scenarios already have their sequence 1.
    """WITH seeded AS (
         INSERT INTO payments
           (reservation_id, user_id, amount, currency, provider, status, created_at, updated_at)
         SELECT gen_random_uuid(), gen_random_uuid(), 500 + (i * 7919) % 99500, 'EUR', 'mock',
                (ARRAY['succeeded','failed','canceled','pending','refunded'])[1 + i % 5],
                now() - make_interval(secs => i * 72000.0 / {payments}), now()
         FROM generate_series(1, {payments}) i
         RETURNING *
       )
       INSERT INTO payment_events (payment_id, type, data, sequence, source, created_at, fanned_out_at)
       SELECT id, 'payment.succeeded', to_jsonb(seeded), 1, 'provider', created_at, created_at FROM seeded""",
    """INSERT INTO webhook_deliveries (event_id, partner_id, url, status, attempt_count, due_at, created_at)
       SELECT e.id, p.id, p.url, CASE WHEN random() < 0.02 THEN 'failed' ELSE 'succeeded' END, 1,
              e.created_at, e.created_at
       FROM payment_events e CROSS JOIN (SELECT id, url FROM partners WHERE name LIKE 'console-%') p
       LIMIT {deliveries}""",
    """INSERT INTO delivery_attempts (delivery_id, attempt_number, started_at, duration_ms, status_code)
       SELECT id, 1, created_at, (random() * 400)::int, CASE WHEN status = 'failed' THEN 500 ELSE 200 END
       FROM webhook_deliveries WHERE url LIKE 'https://p%.example/h'""",
    # what the dispatcher's outcome recorder would have added for these attempts
    """INSERT INTO delivery_rollups
         (partner_id, minute, attempts, succeeded, latency_le, max_ms, last_failure_at, last_failure)
       SELECT d.partner_id, date_trunc('minute', a.started_at), count(*),
              count(*) FILTER (WHERE a.status_code = 200), ARRAY[{histogram}]::int[], max(a.duration_ms),
              max(a.started_at) FILTER (WHERE a.status_code <> 200), CASE WHEN bool_or(a.status_code <> 200)
              THEN 'HTTP 500' END
       FROM delivery_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id
       WHERE d.url LIKE 'https://p%.example/h'
       GROUP BY 1, 2""",
    "ANALYZE",
]
HISTOGRAM = ", ".join(f"count(*) FILTER (WHERE a.duration_ms <= {bound})" for bound in LATENCY_BOUNDS_MS)


def _log(message: str) -> None:
    print(f"[bench] {message}", flush=True)


@dataclass
class Seeded:
    admin_id: uuid.UUID
    payment_id: uuid.UUID  # the newest payment
    partner_id: uuid.UUID  # a seeded partner, signed in to the portal
    delivery_id: uuid.UUID  # one of its failed deliveries


async def seed_console(database_url: str, payments: int, deliveries: int) -> Seeded:
    admin_id = uuid.uuid4()
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        started = time.monotonic()
        for statement in SEED_SQL:
            sql = statement.format(
                partners=PARTNERS, payments=payments, deliveries=deliveries, histogram=HISTOGRAM
            )
            await (conn.execute(sql, admin_id) if "$1" in sql else conn.execute(sql))
        payment_id = await conn.fetchval("SELECT id FROM payments ORDER BY created_at DESC LIMIT 1")
        partner_id = await conn.fetchval("SELECT id FROM partners WHERE name = 'console-1'")
        delivery_id = await conn.fetchval(
            "SELECT id FROM webhook_deliveries WHERE partner_id = $1 AND status = 'failed' LIMIT 1",
            partner_id,
        )
        _log(f"seeded {payments} payments, {deliveries} deliveries in {time.monotonic() - started:.0f}s")
    finally:
        await conn.close()
    return Seeded(admin_id, payment_id, partner_id, delivery_id)


async def _sessions(database_url: str, seeded: Seeded) -> tuple[str, str, str]:
    """A console session of the admin, a portal session and a feed token of the partner."""
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        console = await start_console_session(engine, seeded.admin_id, 3600)
        async with engine.begin() as conn:
            link = await conn.scalar(
                text(
                    "INSERT INTO portal_links (partner_id, token_hash, issued_by, expires_at, used_at)"
                    " VALUES (:partner, :hash, 'bench', now() + interval '1 hour', now()) RETURNING id"
                ),
                {"partner": seeded.partner_id, "hash": uuid.uuid4().hex * 2},
            )
        portal = await start_portal_session(engine, seeded.partner_id, link, 3600)
        _, feed_token = await issue_api_token(engine, seeded.partner_id, "bench")
        return console, portal, feed_token
    finally:
        await engine.dispose()


def _time_page(client: httpx.Client, name: str, path: str, requests: int, title: str) -> Result:
    first = client.get(path)
    if first.status_code != 200:
        raise RuntimeError(f"page {path} answered {first.status_code}: {first.text[:300]}")
    timings, errors = [], 0
    started = time.monotonic()
    for _ in range(requests):
        began = time.perf_counter()
        errors += client.get(path).status_code != 200
        timings.append((time.perf_counter() - began) * 1000)
    elapsed = time.monotonic() - started
    return Result(
        name=name,
        title=title,
        unit="pages",
        throughput=round(requests / elapsed, 1),
        p50_ms=round(statistics.median(timings), 1),
        p99_ms=round(statistics.quantiles(timings, n=100)[98], 1),
        count=requests,
        errors=errors,
        details={"path": path, "sequential": True},
    )


def run_console(stack: Stack, report: Report, *, payments: int, deliveries: int, requests: int) -> None:
    seeded = asyncio.run(seed_console(stack.database_url, payments, deliveries))
    console, portal, feed_token = asyncio.run(_sessions(stack.database_url, seeded))
    console_pages = {
        "partners": "/console/partners",  # 24 h health of every partner (the rollups)
        "partner": f"/console/partners/{seeded.partner_id}",
        "overview": "/console",
        "payments": "/console/payments",
        "payments_filtered": "/console/payments?status=failed&amount_min=100",
        "payment": f"/console/payments/{seeded.payment_id}",
        "deliveries": "/console/deliveries",
        "deliveries_failed": "/console/deliveries?status=failed",
        "delivery": f"/console/deliveries/{seeded.delivery_id}",
    }
    portal_pages = {
        "home": "/portal/",
        "deliveries": "/portal/deliveries",
        "deliveries_failed": "/portal/deliveries?status=failed",
        "delivery": f"/portal/deliveries/{seeded.delivery_id}",
        "catalog": "/portal/events",
        "verify": "/portal/verify",
        "tokens": "/portal/tokens",
    }
    size = f"{payments:,} payments, {deliveries:,} deliveries"
    base = stack.url("gateway")
    clients = [
        (
            "console",
            console_pages,
            httpx.Client(base_url=base, cookies={CONSOLE_COOKIE: console}, timeout=60),
        ),
        ("portal", portal_pages, httpx.Client(base_url=base, cookies={PORTAL_COOKIE: portal}, timeout=60)),
    ]
    for area, pages, client in clients:
        with client:
            for name, path in pages.items():
                title = f"{area} {path.split('?')[0]} ({size})"
                result = _time_page(client, f"{area}.{name}", path, requests, title)
                report.add(result)
                _log(f"{result.title}: p50 {result.p50_ms} ms, p99 {result.p99_ms} ms")
    headers = {"Authorization": f"Bearer {feed_token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        first = client.get("/partner/v1/events", params={"limit": 100}).json()
        for name, params in {"feed_first": "", "feed_after": f"&after={first['next_cursor']}"}.items():
            path = f"/partner/v1/events?limit=100{params}"
            result = _time_page(
                client, f"portal.{name}", path, requests, f"portal feed /partner/v1/events ({size})"
            )
            report.add(result)
            _log(f"{result.title} {name}: p50 {result.p50_ms} ms, p99 {result.p99_ms} ms")


def console_sizes(quick: bool) -> tuple[int, int, int]:
    """payments, deliveries, requests per page (BENCH_CONSOLE_PAYMENTS / _DELIVERIES / _REQUESTS)."""
    return (
        int(os.environ.get("BENCH_CONSOLE_PAYMENTS", 100_000)),
        int(os.environ.get("BENCH_CONSOLE_DELIVERIES", 1_000_000)),
        int(os.environ.get("BENCH_CONSOLE_REQUESTS", 10 if quick else 30)),
    )
