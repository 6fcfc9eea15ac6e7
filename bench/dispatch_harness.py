"""The harness the dispatch scenarios run in: enabling partners, committing a batch and waiting for
its receipts, and turning what arrived into a ``Result`` with CPU and statement costs."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import httpx

from bench.dispatch_batches import (
    WAIT_BASE_SECONDS,
    WAIT_RATE,
    Batch,
    PartnerOutcome,
    collect,
    commit_batch,
    payment_payloads,
    wait_for,
)
from bench.pg_stats import statements_between
from bench.profile import print_profile, profiling
from bench.report import Report, Result
from bench.seed import BenchPartner, enable_only
from bench.stack import Stack
from shared.db import asyncpg_dsn


class DispatchHarness:
    """The receiver, the database and the processes' counters around one dispatch scenario."""

    def __init__(self, stack: Stack, partners: dict[str, BenchPartner], report: Report) -> None:
        self.stack = stack
        self._statements_before: dict[str, tuple[str, int, float, int]] = {}
        self.partners = partners
        self.report = report
        self.client = httpx.Client(timeout=30)
        self.base = stack.url("receiver")
        self.cache_ttl = 1.0
        self.last_deliveries: list[dict[str, Any]] = []
        self.last_profile: dict[str, Any] = {}

    def close(self) -> None:
        self.client.close()

    async def connect(self) -> asyncpg.Connection:
        return await asyncpg.connect(asyncpg_dsn(self.stack.database_url))

    async def configure(self, enabled: list[BenchPartner]) -> None:
        """Enable exactly ``enabled``, wait out the dispatcher's partner cache, clear the receiver."""
        conn = await self.connect()
        try:
            await enable_only(conn, enabled)
        finally:
            await conn.close()
        await asyncio.sleep(self.cache_ttl + 0.5)
        self.client.post(f"{self.base}/reset")

    async def delivery_states(self, batch: Batch) -> list[dict[str, Any]]:
        """How the dispatcher recorded the batch: deliveries by status, attempts and last error."""
        conn = await self.connect()
        try:
            rows = await conn.fetch(
                "SELECT status, attempt_count, last_error, count(*) AS n FROM webhook_deliveries "
                "WHERE event_id = ANY($1::uuid[]) GROUP BY 1, 2, 3 ORDER BY n DESC LIMIT 20",
                list(batch.committed),
            )
        finally:
            await conn.close()
        return [dict(row) for row in rows]

    async def attempts_with_error(self, partner: Any, error: str) -> int:
        conn = await self.connect()
        try:
            found: int = await conn.fetchval(
                "SELECT count(*) FROM delivery_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id "
                "WHERE d.partner_id = $1 AND a.error = $2",
                partner.id,
                error,
            )
        finally:
            await conn.close()
        return found

    async def quiesce(self) -> None:
        """Nothing left over from earlier scenarios: every event fanned out, no pending delivery."""
        conn = await self.connect()
        try:
            await conn.execute("UPDATE payment_events SET fanned_out_at = now() WHERE fanned_out_at IS NULL")
            await conn.execute(
                "UPDATE webhook_deliveries SET status = 'canceled', last_error = 'bench: scenario over' "
                "WHERE status = 'pending' AND leased_by IS NULL"
            )
        finally:
            await conn.close()

    async def run_batch(
        self,
        name: str,
        enabled: list[BenchPartner],
        measured: list[BenchPartner],
        events: int,
        *,
        payments: int | None = None,
    ) -> tuple[dict[str, PartnerOutcome], bool, Batch]:
        """``payments``: spread the events over that many payments (default: one event each, as far as
        the payment rows go)."""
        await self.configure(enabled)
        conn = await self.connect()
        try:
            payloads = await payment_payloads(conn, payments or events)
            payloads = [payloads[i % len(payloads)] for i in range(events)]
            with profiling(name, self.stack.pids()) as self.last_profile:
                batch = await commit_batch(conn, payloads)
                expected = {p.name: events for p in measured}
                deadline = WAIT_BASE_SECONDS + len(measured) * events / WAIT_RATE
                complete = await asyncio.to_thread(wait_for, self.client, self.base, expected, deadline)
        finally:
            await conn.close()
        outcomes = {p.name: collect(self.client, self.base, p, batch) for p in measured}
        self.last_deliveries = await self.delivery_states(batch)
        if not complete:
            got = {k: v.delivered for k, v in outcomes.items()}
            self.report.notes.append(f"{name}: incomplete after waiting: expected {events} each, got {got}")
        return outcomes, complete, batch

    def begin(self) -> dict[str, float]:
        """A scenario starts: the processes' CPU (returned) and PostgreSQL's statement totals."""
        self._statements_before = self.stack.statements()
        return self.stack.cpu_seconds()

    def result(
        self, name: str, title: str, outcomes: dict[str, PartnerOutcome], expected: int, cpu: dict[str, float]
    ) -> Result:
        delivered = sum(o.delivered for o in outcomes.values())
        seconds = max((o.seconds for o in outcomes.values()), default=0.0)
        latencies_p50 = [o.p50_ms for o in outcomes.values()]
        latencies_p99 = [o.p99_ms for o in outcomes.values()]
        sig_errors = [e for o in outcomes.values() for e in o.signature_errors]
        result = Result(
            name=name,
            title=title,
            unit="deliveries/s",
            throughput=delivered / seconds if seconds else 0.0,
            p50_ms=max(latencies_p50, default=None),
            p99_ms=max(latencies_p99, default=None),
            count=delivered,
            errors=(expected - delivered) + len(sig_errors),
            details={
                "partners": {k: v.__dict__ for k, v in outcomes.items()},
                "expected": expected,
                "seconds": seconds,
                "cpu_seconds": cpu,
                "cpu_ms_per_request": {k: round(v * 1000 / max(1, delivered), 3) for k, v in cpu.items()},
                "latency_note": "commit of the batch -> first arrival at the receiver, per delivery",
                "deliveries_by_state": self.last_deliveries,
                "statements": statements_between(self._statements_before, self.stack.statements()),
            },
        )
        if self.last_profile:
            result.details["profiled"] = True
            result.details["profile"] = self.last_profile
            print_profile(name, self.last_profile)
            self.last_profile = {}
        return result
