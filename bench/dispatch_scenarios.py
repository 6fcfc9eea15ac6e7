"""Scenarios 3 (dispatch throughput), 4 (event latency) and 5 (isolation), plus baseline (c).

Events are committed straight into the outbox exactly as payment_ms commits them (a
``payment_events`` row with the payment as ``data``, and ``pg_notify('payment_events', id)`` in the
same transaction); the dispatcher process does everything else (fan-out through the gateway's partner
list, claim, sign, send, record). The receiver stamps each arrival; a delivery's latency is its first
arrival minus the moment the bench sent the event's COMMIT (same machine clock), so it includes the
commit itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import msgspec

from bench.profile import print_profile, profiling
from bench.report import Report, Result, Target
from bench.seed import BenchPartner, enable_only
from bench.stack import Stack, statements_between
from bench.stats import percentile
from payment_ms.payments.mapping import to_contract
from shared.db import asyncpg_dsn
from shared.outbox import NOTIFY_CHANNEL
from shared.webhooks import WebhookVerificationError, verify

NOTIFY = f"SELECT pg_notify('{NOTIFY_CHANNEL}', i::text) FROM unnest($1::uuid[]) AS i"
INSERT_EVENTS = """
INSERT INTO payment_events (id, payment_id, type, data, sequence)
SELECT i, p, 'payment.succeeded', d::jsonb,
       coalesce((SELECT max(sequence) FROM payment_events e WHERE e.payment_id = p), 0)
       + row_number() OVER (PARTITION BY p ORDER BY n)
FROM unnest($1::uuid[], $2::uuid[], $3::text[]) WITH ORDINALITY AS u(i, p, d, n)
"""
SEED_PAYMENTS = """
INSERT INTO payments (reservation_id, user_id, amount, currency, provider, status, description)
SELECT gen_random_uuid(), gen_random_uuid(), 1000 + n, 'EUR', 'mock', 'succeeded', 'bench payment'
FROM generate_series(1, $1) AS n
"""
# No progress for this long while waiting for receipts: the scenario is reported as incomplete.
STALL_SECONDS = 20.0
# A batch scenario waits at most this long plus one second per WAIT_RATE deliveries, so a dispatcher
# far below target still ends the run in time (the rate is then measured on what arrived).
WAIT_BASE_SECONDS = 30.0
WAIT_RATE = 250.0
# The ordered-delivery scenario: events per payment in its batch (each waits for the one before).
ORDERED_EVENTS_PER_PAYMENT = 4


def _log(message: str) -> None:
    print(f"[bench] {message}", flush=True)


@dataclass
class Batch:
    """Events committed by the bench: id -> the wall-clock time their COMMIT was sent."""

    committed: dict[uuid.UUID, float]


# What the seeded rows look like once paid (the payload of a ``payment.succeeded``).
SUCCEEDED = {
    "status": "succeeded",
    "refunded_amount": 0,
    "metadata": {},
    "failure_reason": None,
    "confirmed_by": None,
    "confirmed_at": None,
}


async def payment_payloads(conn: asyncpg.Connection, count: int) -> list[tuple[uuid.UUID, str]]:
    """(payment id, ``data`` JSON) pairs from real payment rows, recycled when there are fewer rows."""
    rows = await conn.fetch("SELECT * FROM payments ORDER BY created_at LIMIT $1", count)
    if not rows:  # a run without the checkout scenario: make a few payment rows to point at
        await conn.execute(SEED_PAYMENTS, min(count, 2000))
        rows = await conn.fetch("SELECT * FROM payments ORDER BY created_at LIMIT $1", count)
    payloads = []
    for row in rows:
        payment = to_contract({**dict(row), **SUCCEEDED, "captured_amount": row["amount"]})
        payloads.append((row["id"], msgspec.json.encode(payment).decode()))
    return [payloads[i % len(payloads)] for i in range(count)]


async def commit_batch(conn: asyncpg.Connection, payloads: list[tuple[uuid.UUID, str]]) -> Batch:
    """All events in one transaction (one NOTIFY each): a backlog that appears at once."""
    ids = [uuid.uuid4() for _ in payloads]
    tx = conn.transaction()
    await tx.start()
    try:
        await conn.execute(INSERT_EVENTS, ids, [p for p, _ in payloads], [d for _, d in payloads])
        await conn.execute(NOTIFY, ids)
    except BaseException:
        await tx.rollback()
        raise
    sent = time.time()
    await tx.commit()
    return Batch(dict.fromkeys(ids, sent))


async def commit_paced(conn: asyncpg.Connection, payloads: list[tuple[uuid.UUID, str]], rate: float) -> Batch:
    """One event per transaction at ``rate`` per second on an absolute schedule (no drift)."""
    committed: dict[uuid.UUID, float] = {}
    start = time.monotonic()
    for index, (payment_id, data) in enumerate(payloads):
        delay = start + index / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        event_id = uuid.uuid4()
        tx = conn.transaction()
        await tx.start()
        await conn.execute(INSERT_EVENTS, [event_id], [payment_id], [data])
        await conn.execute(NOTIFY, [event_id])
        committed[event_id] = time.time()
        await tx.commit()
    return Batch(committed)


# The dispatcher's idle-path statements, as it runs them, for the dead-entry diagnostic below.
HOT_STATEMENTS = {
    "fan-out claim": "SELECT id FROM payment_events WHERE fanned_out_at IS NULL AND fan_out_due_at <= now() "
    "ORDER BY created_at LIMIT 200 FOR UPDATE SKIP LOCKED",
    "seconds until due": "SELECT least((SELECT min(due_at) FROM webhook_deliveries "
    "WHERE status = 'pending'), (SELECT min(fan_out_due_at) FROM payment_events "
    "WHERE fanned_out_at IS NULL))",
    "due head": "SELECT id FROM webhook_deliveries WHERE status = 'pending' AND due_at <= now() "
    "ORDER BY due_at LIMIT 200",
}


async def table_state(conn: asyncpg.Connection) -> dict[str, Any]:
    """Dead rows of the two queue tables and what the dispatcher's idle-path statements cost right now
    (EXPLAIN ANALYZE, BUFFERS: execution ms and buffers touched): after a large batch the partial
    indexes hold the marked rows' entries until (auto)vacuum removes them."""
    rows = await conn.fetch(
        "SELECT relname, n_live_tup, n_dead_tup, autovacuum_count, vacuum_count, "
        "extract(epoch FROM last_autovacuum)::float8 AS last_autovacuum FROM pg_stat_user_tables "
        "WHERE relname IN ('payment_events', 'webhook_deliveries', 'delivery_attempts', 'delivery_rollups')"
    )
    state: dict[str, Any] = {row["relname"]: dict(row) for row in rows}
    checkpoints = await conn.fetchrow("SELECT num_timed, num_requested, num_done FROM pg_stat_checkpointer")
    state["checkpoints"] = dict(checkpoints) if checkpoints else {}
    state["at"] = time.time()
    # what keeps dead rows from being removable (a snapshot held open): the oldest xmin holders
    holders = await conn.fetch(
        "SELECT pid, client_port, application_name, state, age(backend_xmin) AS xmin_age, "
        "extract(epoch FROM now() - xact_start)::float8 AS xact_seconds, left(query, 80) AS query "
        "FROM pg_stat_activity WHERE backend_xmin IS NOT NULL AND pid <> pg_backend_pid() "
        "ORDER BY age(backend_xmin) DESC LIMIT 3"
    )
    state["oldest_snapshots"] = [dict(row) for row in holders]
    for name, sql in HOT_STATEMENTS.items():
        async with conn.transaction():
            plan = await conn.fetchval(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}")
        top = msgspec.json.decode(plan)[0] if isinstance(plan, str) else plan[0]
        buffers = top["Plan"].get("Shared Hit Blocks", 0) + top["Plan"].get("Shared Read Blocks", 0)
        state[name] = {"ms": round(top["Execution Time"], 3), "buffers": buffers}
    return state


def _receiver_counts(client: httpx.Client, base: str) -> dict[str, int]:
    return dict(client.get(f"{base}/counts").json()["received"])


def wait_for(client: httpx.Client, base: str, expected: dict[str, int], deadline_s: float) -> bool:
    """Until every partner received its expected count, or no progress for ``STALL_SECONDS``."""
    started = last_progress = time.monotonic()
    last_total = -1
    while True:
        counts = _receiver_counts(client, base)
        if all(counts.get(name, 0) >= n for name, n in expected.items()):
            return True
        total = sum(counts.get(name, 0) for name in expected)
        now = time.monotonic()
        if total != last_total:
            last_total, last_progress = total, now
        if now - last_progress > STALL_SECONDS or now - started > deadline_s:
            return False
        time.sleep(0.05)


@dataclass
class PartnerOutcome:
    delivered: int
    duplicates: int
    rate: float
    steady_rate: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    seconds: float
    signatures_checked: int
    signature_errors: list[str]


def _check_signatures(samples: list[dict[str, Any]], secret: str) -> tuple[int, list[str]]:
    """Our verifier and, when installed, the independent ``standardwebhooks`` library."""
    errors = []
    try:
        from standardwebhooks.webhooks import Webhook
    except ImportError:  # the dev group is not installed
        Webhook = None  # type: ignore[assignment,misc]
    for sample in samples:
        body = str(sample["body"]).encode()
        headers = dict(sample["headers"])
        try:
            verify(secret, headers, body)
            if Webhook is not None:
                Webhook(secret).verify(body, headers)
        except (WebhookVerificationError, Exception) as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
    return len(samples), errors


def collect(client: httpx.Client, base: str, partner: BenchPartner, batch: Batch) -> PartnerOutcome:
    answer = client.get(f"{base}/receipts/{partner.name}").json()
    first: dict[uuid.UUID, float] = {}
    received = 0
    for msg_id, at in answer["receipts"]:
        with contextlib.suppress(ValueError):
            event_id = uuid.UUID(msg_id)
            if event_id in batch.committed:
                received += 1
                if event_id not in first or at < first[event_id]:
                    first[event_id] = at
    latencies = [first[e] - batch.committed[e] for e in first]
    t0 = min(batch.committed.values())
    arrivals = sorted(first.values())
    seconds = (arrivals[-1] - t0) if arrivals else 0.0
    spread = (arrivals[-1] - arrivals[0]) if len(arrivals) > 1 else 0.0
    checked, errors = _check_signatures(answer["samples"], partner.secret)
    return PartnerOutcome(
        delivered=len(first),
        duplicates=received - len(first),
        rate=len(first) / seconds if seconds > 0 else 0.0,
        steady_rate=(len(arrivals) - 1) / spread if spread > 0 else 0.0,
        p50_ms=percentile(latencies, 50) * 1000,
        p99_ms=percentile(latencies, 99) * 1000,
        max_ms=max(latencies, default=0.0) * 1000,
        seconds=seconds,
        signatures_checked=checked,
        signature_errors=errors,
    )


class DispatchBench:
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

    async def _connect(self) -> asyncpg.Connection:
        return await asyncpg.connect(asyncpg_dsn(self.stack.database_url))

    async def configure(self, enabled: list[BenchPartner]) -> None:
        """Enable exactly ``enabled``, wait out the dispatcher's partner cache, clear the receiver."""
        conn = await self._connect()
        try:
            await enable_only(conn, enabled)
        finally:
            await conn.close()
        await asyncio.sleep(self.cache_ttl + 0.5)
        self.client.post(f"{self.base}/reset")

    async def delivery_states(self, batch: Batch) -> list[dict[str, Any]]:
        """How the dispatcher recorded the batch: deliveries by status, attempts and last error."""
        conn = await self._connect()
        try:
            rows = await conn.fetch(
                "SELECT status, attempt_count, last_error, count(*) AS n FROM webhook_deliveries "
                "WHERE event_id = ANY($1::uuid[]) GROUP BY 1, 2, 3 ORDER BY n DESC LIMIT 20",
                list(batch.committed),
            )
        finally:
            await conn.close()
        return [dict(row) for row in rows]

    async def _isolation_control(self, healthy: Any, events: int) -> Result | None:
        """The healthy partner beside a second FAST one: the same fan-out (two deliveries per event) as
        beside the hanging partner, but the dispatcher also sends the second partner's 20,000. A
        diagnostic, not one of the issue's targets: beside the hanging partner the healthy one should
        do at least as well as here, since the hanging one only ever holds its own few slots."""
        second = self.partners.get("fast-2")
        if second is None:
            return None
        before = self._begin()
        outcomes, _complete, _ = await self._run_batch(
            "isolation.healthy_beside_fast", [healthy, second], [healthy], events
        )
        control = self._result(
            "isolation.healthy_beside_fast",
            f"{events} events -> the healthy partner beside a second fast one (control: same fan-out)",
            outcomes,
            events,
            _cpu_delta(before, self.stack.cpu_seconds()),
        )
        control.is_baseline = True
        control.details["diagnostic"] = True
        self.report.add(control)
        self.report.relate(control.name, "dispatch.one_partner")
        await self.quiesce()
        return control

    async def attempts_with_error(self, partner: Any, error: str) -> int:
        conn = await self._connect()
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
        conn = await self._connect()
        try:
            await conn.execute("UPDATE payment_events SET fanned_out_at = now() WHERE fanned_out_at IS NULL")
            await conn.execute(
                "UPDATE webhook_deliveries SET status = 'canceled', last_error = 'bench: scenario over' "
                "WHERE status = 'pending' AND leased_by IS NULL"
            )
        finally:
            await conn.close()

    async def _run_batch(
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
        conn = await self._connect()
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

    def _begin(self) -> dict[str, float]:
        """A scenario starts: the processes' CPU (returned) and PostgreSQL's statement totals."""
        self._statements_before = self.stack.statements()
        return self.stack.cpu_seconds()

    def _result(
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

    async def throughput(self, events: int, partner_count: int) -> None:
        fast = [self.partners[f"fast-{i}"] for i in range(1, partner_count + 1)]
        name = "dispatch.one_partner" if partner_count == 1 else f"dispatch.{partner_count}_partners"
        before = self._begin()
        outcomes, _complete, _ = await self._run_batch(name, fast, fast, events)
        cpu = _cpu_delta(before, self.stack.cpu_seconds())
        processes = self.stack.config.dispatchers
        title = f"{events} events -> {partner_count} partner(s), {processes} dispatcher process(es)"
        result = self._result(name, title, outcomes, events * partner_count, cpu)
        per_process = result.throughput / processes if result.throughput is not None else None
        result.targets = [Target("deliveries/s per process", per_process, ">=", 1000)]
        self.report.add(result)
        to_raw = self.report.relate(name, "dispatch.raw_baseline")
        if partner_count == 1:  # issue 16: one partner within 0.6x of the raw sender's wire rate
            result.targets.append(Target("ratio to raw sender", to_raw, ">=", 0.6))
        _log(
            f"{name}: {result.throughput:,.0f} deliveries/s"
            f"  p50 {result.p50_ms:.0f} ms  p99 {result.p99_ms:.0f} ms"
        )
        await self.quiesce()

    async def throughput_ordered(self, events: int) -> None:
        """Scenario 3 to one partner that asked for ordered delivery, four events per payment in the
        batch: each waits until the one before it is delivered (the others flow meanwhile)."""
        partner = self.partners["fast-1"]
        name = "dispatch.one_partner_ordered"
        conn = await self._connect()
        try:
            await conn.execute("UPDATE partners SET ordered = true WHERE id = $1", partner.id)
            before = self._begin()
            outcomes, _complete, _ = await self._run_batch(
                name, [partner], [partner], events, payments=max(1, events // ORDERED_EVENTS_PER_PAYMENT)
            )
            cpu = _cpu_delta(before, self.stack.cpu_seconds())
        finally:
            await conn.execute("UPDATE partners SET ordered = false WHERE id = $1", partner.id)
            await conn.close()
        title = f"{events} events -> 1 partner, ordered delivery ({ORDERED_EVENTS_PER_PAYMENT} per payment)"
        result = self._result(name, title, outcomes, events, cpu)
        self.report.add(result)
        self.report.relate(name, "dispatch.one_partner")
        _log(f"{name}: {result.throughput:,.0f} deliveries/s  p50 {result.p50_ms:.0f} ms")
        await self.quiesce()

    async def warm_up(self, events: int) -> None:
        """One unmeasured batch to the first partner: connections, prepared statements and caches of a
        fresh dispatcher are warm before the first measured scenario (as wrk warms the services)."""
        partner = self.partners["fast-1"]
        outcomes, _complete, _ = await self._run_batch("warm-up", [partner], [partner], events)
        _log(f"dispatcher warm-up: {outcomes[partner.name].delivered} deliveries")
        self.last_profile = {}
        await self.quiesce()

    def raw_baseline(self, count: int, concurrency: int) -> None:
        self.client.post(f"{self.base}/reset")
        command = [
            sys.executable,
            "-m",
            "bench.raw_sender",
            "--url",
            f"{self.base}/hook/raw",
            "--count",
            str(count),
            "--concurrency",
            str(concurrency),
        ]
        out = subprocess.run(command, capture_output=True, text=True, timeout=600)
        if out.returncode != 0:
            raise RuntimeError(f"raw sender failed: {out.stderr[-2000:]}")
        raw = msgspec.json.decode(out.stdout.strip().splitlines()[-1])
        received = _receiver_counts(self.client, self.base).get("raw", 0)
        per_sent = round(raw["cpu_seconds"] * 1000 / max(1, raw["sent"]), 3)
        result = Result(
            name="dispatch.raw_baseline",
            title=f"raw signed aiohttp POSTs, one asyncio process, {concurrency} in flight",
            unit="deliveries/s",
            throughput=raw["rate"],
            p50_ms=raw["p50_ms"],
            p99_ms=raw["p99_ms"],
            count=raw["sent"],
            errors=raw["errors"] + max(0, raw["sent"] - received),
            details={
                **raw,
                "received": received,
                "cpu_ms_per_request": {"raw-sender": per_sent},
            },
            is_baseline=True,
        )
        self.report.add(result)
        _log(f"dispatch.raw_baseline: {result.throughput:,.0f} POST/s  (receiver counted {received})")

    async def latency(self, rate: float, seconds: float) -> None:
        partner = self.partners["fast-1"]
        await self.configure([partner])
        count = max(1, int(rate * seconds))
        conn = await self._connect()
        try:
            payloads = await payment_payloads(conn, count)
            state_before = await table_state(conn)
            _log(f"latency: queue tables before: {state_before}")
            before = self._begin()
            with profiling("latency.commit_to_receipt", self.stack.pids()) as self.last_profile:
                batch = await commit_paced(conn, payloads, rate)
                complete = await asyncio.to_thread(
                    wait_for, self.client, self.base, {partner.name: count}, 60.0
                )
        finally:
            await conn.close()
        cpu = _cpu_delta(before, self.stack.cpu_seconds())
        conn = await self._connect()
        try:
            state_after = await table_state(conn)
        finally:
            await conn.close()
        _log(f"latency: queue tables after: {state_after}")
        outcome = collect(self.client, self.base, partner, batch)
        slowest = _slowest(self.client, self.base, partner, batch)
        t0 = min(batch.committed.values())
        _log(f"latency: slowest events (s after the first commit at {t0:.3f}, ms): {slowest}")
        self.last_deliveries = await self.delivery_states(batch)
        if not complete:
            self.report.notes.append(f"latency: {outcome.delivered}/{count} events arrived")
        result = self._result(
            "latency.commit_to_receipt",
            f"{rate:g} events/s for {seconds:g}s, commit -> partner receipt",
            {partner.name: outcome},
            count,
            cpu,
        )
        result.unit = "events/s"
        result.details["queue_tables_before"] = state_before
        result.details["queue_tables_after"] = state_after
        result.details["slowest_events"] = slowest
        result.details["latency_note"] = "COMMIT sent -> first arrival at the receiver, per event"
        result.targets = [
            Target("p50 ms", outcome.p50_ms, "<=", 3),
            Target("p99 ms", outcome.p99_ms, "<=", 15),
        ]
        self.report.add(result)
        _log(
            f"latency: p50 {outcome.p50_ms:.1f} ms  p99 {outcome.p99_ms:.1f} ms  max {outcome.max_ms:.1f} ms"
        )
        await self.quiesce()

    async def isolation(self, events: int) -> None:
        healthy, hanging = self.partners["fast-1"], self.partners["hang-1"]
        control = await self._isolation_control(healthy, events)
        before = self._begin()
        outcomes, _complete, _ = await self._run_batch(
            "isolation.healthy_beside_hanging", [healthy, hanging], [healthy], events
        )
        cpu = _cpu_delta(before, self.stack.cpu_seconds())
        hung = int(self.client.get(f"{self.base}/counts").json()["hung"].get(hanging.name, 0))
        timed_out = await self.attempts_with_error(hanging, "timeout")
        result = self._result(
            "isolation.healthy_beside_hanging",
            f"{events} events -> a healthy partner beside one that never answers",
            outcomes,
            events,
            cpu,
        )
        result.details["hanging_partner_requests_open"] = hung
        result.details["hanging_partner_attempts_timed_out"] = timed_out
        result.details["compared_with"] = "dispatch.one_partner"
        self.report.add(result)
        ratio = self.report.relate(result.name, "dispatch.one_partner")
        reference = self.report.get("dispatch.one_partner")
        p99_ratio = (
            (result.p99_ms / reference.p99_ms) if reference and reference.p99_ms and result.p99_ms else None
        )
        result.details["p99_ratio_to_one_partner"] = p99_ratio
        result.targets = [Target("healthy throughput ratio", ratio, ">=", 0.9)]
        if control is not None and control.throughput:
            # Against scenario 3 the hanging partner also doubles the rows fanned out and scanned; the
            # control has that database work too (and twice the sending).
            result.details["ratio_to_control"] = result.throughput / control.throughput
        _log(
            f"isolation: healthy {result.throughput:,.0f} deliveries/s (ratio {ratio or 0:.2f}), "
            f"p99 {result.p99_ms:.0f} ms; hanging partner holds {hung} open requests, "
            f"{timed_out} of its attempts timed out; "
            f"{result.details.get('ratio_to_control') or 0:.2f}x the control beside a fast partner"
        )
        conn = await self._connect()
        try:
            await enable_only(conn, [])
        finally:
            await conn.close()
        await self.quiesce()


def _slowest(
    client: httpx.Client, base: str, partner: BenchPartner, batch: Batch
) -> list[tuple[float, float]]:
    """The 1 % slowest events: when (seconds after the first commit) and how slow (ms). Clustered in time
    they point at a stall (autovacuum, checkpoint); spread out, at a per-event cost."""
    first: dict[uuid.UUID, float] = {}
    for msg_id, at in client.get(f"{base}/receipts/{partner.name}").json()["receipts"]:
        with contextlib.suppress(ValueError):
            event_id = uuid.UUID(msg_id)
            if event_id in batch.committed and (event_id not in first or at < first[event_id]):
                first[event_id] = at
    t0 = min(batch.committed.values())
    slow = sorted(((first[e] - batch.committed[e]) * 1000, batch.committed[e] - t0) for e in first)
    return [(round(at, 2), round(ms, 1)) for ms, at in slow[-max(1, len(slow) // 100) :]]


def _cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {name: round(after[name] - before.get(name, 0.0), 3) for name in after}
