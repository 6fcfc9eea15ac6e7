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
import subprocess
import sys

import msgspec

from bench.dispatch_batches import (
    ORDERED_EVENTS_PER_PAYMENT,
    collect,
    commit_paced,
    cpu_delta,
    log,
    payment_payloads,
    receiver_counts,
    wait_for,
)
from bench.dispatch_harness import DispatchHarness
from bench.profile import profiling
from bench.queue_diagnostics import slowest, table_state
from bench.report import Result, Target


class DispatchBench(DispatchHarness):
    """Scenarios 3 (throughput, ordered), 4 (latency) and baseline (c); 5 is ``isolation_scenario``."""

    async def throughput(self, events: int, partner_count: int) -> None:
        fast = [self.partners[f"fast-{i}"] for i in range(1, partner_count + 1)]
        name = "dispatch.one_partner" if partner_count == 1 else f"dispatch.{partner_count}_partners"
        before = self.begin()
        outcomes, _complete, _ = await self.run_batch(name, fast, fast, events)
        cpu = cpu_delta(before, self.stack.cpu_seconds())
        processes = self.stack.config.dispatchers
        title = f"{events} events -> {partner_count} partner(s), {processes} dispatcher process(es)"
        result = self.result(name, title, outcomes, events * partner_count, cpu)
        per_process = result.throughput / processes if result.throughput is not None else None
        result.targets = [Target("deliveries/s per process", per_process, ">=", 1000)]
        self.report.add(result)
        to_raw = self.report.relate(name, "dispatch.raw_baseline")
        if partner_count == 1:  # issue 16: one partner within 0.6x of the raw sender's wire rate
            result.targets.append(Target("ratio to raw sender", to_raw, ">=", 0.6))
        log(
            f"{name}: {result.throughput:,.0f} deliveries/s"
            f"  p50 {result.p50_ms:.0f} ms  p99 {result.p99_ms:.0f} ms"
        )
        await self.quiesce()

    async def throughput_ordered(self, events: int) -> None:
        """Scenario 3 to one partner that asked for ordered delivery, four events per payment in the
        batch: each waits until the one before it is delivered (the others flow meanwhile)."""
        partner = self.partners["fast-1"]
        name = "dispatch.one_partner_ordered"
        conn = await self.connect()
        try:
            await conn.execute("UPDATE partners SET ordered = true WHERE id = $1", partner.id)
            before = self.begin()
            outcomes, _complete, _ = await self.run_batch(
                name, [partner], [partner], events, payments=max(1, events // ORDERED_EVENTS_PER_PAYMENT)
            )
            cpu = cpu_delta(before, self.stack.cpu_seconds())
        finally:
            await conn.execute("UPDATE partners SET ordered = false WHERE id = $1", partner.id)
            await conn.close()
        title = f"{events} events -> 1 partner, ordered delivery ({ORDERED_EVENTS_PER_PAYMENT} per payment)"
        result = self.result(name, title, outcomes, events, cpu)
        self.report.add(result)
        self.report.relate(name, "dispatch.one_partner")
        log(f"{name}: {result.throughput:,.0f} deliveries/s  p50 {result.p50_ms:.0f} ms")
        await self.quiesce()

    async def warm_up(self, events: int) -> None:
        """One unmeasured batch to the first partner: connections, prepared statements and caches of a
        fresh dispatcher are warm before the first measured scenario (as wrk warms the services)."""
        partner = self.partners["fast-1"]
        outcomes, _complete, _ = await self.run_batch("warm-up", [partner], [partner], events)
        log(f"dispatcher warm-up: {outcomes[partner.name].delivered} deliveries")
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
        received = receiver_counts(self.client, self.base).get("raw", 0)
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
        log(f"dispatch.raw_baseline: {result.throughput:,.0f} POST/s  (receiver counted {received})")

    async def latency(self, rate: float, seconds: float) -> None:
        partner = self.partners["fast-1"]
        await self.configure([partner])
        count = max(1, int(rate * seconds))
        conn = await self.connect()
        try:
            payloads = await payment_payloads(conn, count)
            state_before = await table_state(conn)
            log(f"latency: queue tables before: {state_before}")
            before = self.begin()
            with profiling("latency.commit_to_receipt", self.stack.pids()) as self.last_profile:
                batch = await commit_paced(conn, payloads, rate)
                complete = await asyncio.to_thread(
                    wait_for, self.client, self.base, {partner.name: count}, 60.0
                )
        finally:
            await conn.close()
        cpu = cpu_delta(before, self.stack.cpu_seconds())
        conn = await self.connect()
        try:
            state_after = await table_state(conn)
        finally:
            await conn.close()
        log(f"latency: queue tables after: {state_after}")
        outcome = collect(self.client, self.base, partner, batch)
        slow = slowest(self.client, self.base, partner, batch)
        t0 = min(batch.committed.values())
        log(f"latency: slowest events (s after the first commit at {t0:.3f}, ms): {slow}")
        self.last_deliveries = await self.delivery_states(batch)
        if not complete:
            self.report.notes.append(f"latency: {outcome.delivered}/{count} events arrived")
        result = self.result(
            "latency.commit_to_receipt",
            f"{rate:g} events/s for {seconds:g}s, commit -> partner receipt",
            {partner.name: outcome},
            count,
            cpu,
        )
        result.unit = "events/s"
        result.details["queue_tables_before"] = state_before
        result.details["queue_tables_after"] = state_after
        result.details["slowest_events"] = slow
        result.details["latency_note"] = "COMMIT sent -> first arrival at the receiver, per event"
        result.targets = [
            Target("p50 ms", outcome.p50_ms, "<=", 3),
            Target("p99 ms", outcome.p99_ms, "<=", 15),
        ]
        self.report.add(result)
        log(f"latency: p50 {outcome.p50_ms:.1f} ms  p99 {outcome.p99_ms:.1f} ms  max {outcome.max_ms:.1f} ms")
        await self.quiesce()
