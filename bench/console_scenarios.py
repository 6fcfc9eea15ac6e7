"""Scenario "console": the operator console's pages over 100,000 payments and 1,000,000 deliveries.

Seeded in SQL (``generate_series``): payments spread over the last 20 hours, one event each, a
delivery of every event to each of ten partners and one attempt per delivery, so the partners page's
24-hour health reads every attempt (its worst case). Each page is then fetched sequentially by a
signed-in admin; the report gives requests per second and p50/p99 per page."""

from __future__ import annotations

import asyncio
import os
import statistics
import time
import uuid

import asyncpg
import httpx

from bench.report import Report, Result
from bench.stack import Stack
from gateway.web.sessions import CONSOLE_COOKIE, start_console_session
from shared.db import asyncpg_dsn, create_engine

PARTNERS = 10

SEED_SQL = [
    """INSERT INTO users (id, email, password_hash, role)
       VALUES ($1, 'console-bench@bench.paygate.test', 'x', 'admin')""",
    """INSERT INTO partners (name, url, event_types, secret)
       SELECT 'console-' || i, 'https://p' || i || '.example/h',
              ARRAY['payment.succeeded']::varchar[], 'whsec_x'
       FROM generate_series(1, {partners}) i""",
    # The seeded payments' events only: payments of the other scenarios already have their sequence 1.
    """WITH seeded AS (
         INSERT INTO payments
           (reservation_id, user_id, amount, currency, provider, status, created_at, updated_at)
         SELECT gen_random_uuid(), gen_random_uuid(), 500 + (i * 7919) % 99500, 'EUR', 'mock',
                (ARRAY['succeeded','failed','canceled','pending','refunded'])[1 + i % 5],
                now() - make_interval(secs => i * 72000.0 / {payments}), now()
         FROM generate_series(1, {payments}) i
         RETURNING id, created_at
       )
       INSERT INTO payment_events (payment_id, type, data, sequence, created_at, fanned_out_at)
       SELECT id, 'payment.succeeded', '{{}}'::jsonb, 1, created_at, created_at FROM seeded""",
    """INSERT INTO webhook_deliveries (event_id, partner_id, url, status, attempt_count, due_at, created_at)
       SELECT e.id, p.id, p.url, CASE WHEN random() < 0.02 THEN 'failed' ELSE 'succeeded' END, 1,
              e.created_at, e.created_at
       FROM payment_events e CROSS JOIN (SELECT id, url FROM partners WHERE name LIKE 'console-%') p
       LIMIT {deliveries}""",
    """INSERT INTO delivery_attempts (delivery_id, attempt_number, started_at, duration_ms, status_code)
       SELECT id, 1, created_at, (random() * 400)::int, CASE WHEN status = 'failed' THEN 500 ELSE 200 END
       FROM webhook_deliveries WHERE url LIKE 'https://p%.example/h'""",
    "ANALYZE",
]


def _log(message: str) -> None:
    print(f"[bench] {message}", flush=True)


async def seed_console(database_url: str, payments: int, deliveries: int) -> tuple[uuid.UUID, uuid.UUID]:
    admin_id = uuid.uuid4()
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        started = time.monotonic()
        for statement in SEED_SQL:
            sql = statement.format(partners=PARTNERS, payments=payments, deliveries=deliveries)
            await (conn.execute(sql, admin_id) if "$1" in sql else conn.execute(sql))
        payment_id = await conn.fetchval("SELECT id FROM payments ORDER BY created_at DESC LIMIT 1")
        _log(f"seeded {payments} payments, {deliveries} deliveries in {time.monotonic() - started:.0f}s")
    finally:
        await conn.close()
    return admin_id, payment_id


async def _session(database_url: str, admin_id: uuid.UUID) -> str:
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        return await start_console_session(engine, admin_id, 3600)
    finally:
        await engine.dispose()


def run_console(stack: Stack, report: Report, *, payments: int, deliveries: int, requests: int) -> None:
    admin_id, payment_id = asyncio.run(seed_console(stack.database_url, payments, deliveries))
    token = asyncio.run(_session(stack.database_url, admin_id))
    pages = {
        "partners": "/console/partners",  # 24 h health of every partner: the heaviest
        "overview": "/console",
        "payments": "/console/payments?status=failed&amount_min=100",
        "deliveries": "/console/deliveries?status=failed",
        "payment": f"/console/payments/{payment_id}",
    }
    with httpx.Client(base_url=stack.url("gateway"), cookies={CONSOLE_COOKIE: token}, timeout=60) as client:
        for name, path in pages.items():
            first = client.get(path)
            if first.status_code != 200:
                raise RuntimeError(f"console page {path} answered {first.status_code}: {first.text[:300]}")
            timings, errors = [], 0
            started = time.monotonic()
            for _ in range(requests):
                began = time.perf_counter()
                errors += client.get(path).status_code != 200
                timings.append((time.perf_counter() - began) * 1000)
            elapsed = time.monotonic() - started
            quantiles = statistics.quantiles(timings, n=100)
            result = Result(
                name=f"console.{name}",
                title=f"console {path.split('?')[0]} ({payments:,} payments, {deliveries:,} deliveries)",
                unit="pages",
                throughput=round(requests / elapsed, 1),
                p50_ms=round(statistics.median(timings), 1),
                p99_ms=round(quantiles[98], 1),
                count=requests,
                errors=errors,
                details={"path": path, "sequential": True},
            )
            report.add(result)
            _log(f"{result.title}: p50 {result.p50_ms} ms, p99 {result.p99_ms} ms")


def console_sizes(quick: bool) -> tuple[int, int, int]:
    """payments, deliveries, requests per page (BENCH_CONSOLE_PAYMENTS / _DELIVERIES / _REQUESTS)."""
    return (
        int(os.environ.get("BENCH_CONSOLE_PAYMENTS", 100_000)),
        int(os.environ.get("BENCH_CONSOLE_DELIVERIES", 1_000_000)),
        int(os.environ.get("BENCH_CONSOLE_REQUESTS", 10 if quick else 30)),
    )
