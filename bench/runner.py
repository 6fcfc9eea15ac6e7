"""``make bench`` / ``python -m bench``: start paygate, seed, run every scenario, report.

Exit code: 0 when every scenario ran (targets met or not: they are reported, not asserted),
1 when the harness itself failed (see ``errors`` in the JSON)."""

from __future__ import annotations

import asyncio
import random
import sys
import time
import traceback
from datetime import UTC, datetime

import asyncpg

from bench.config import BenchConfig, load_config
from bench.console_scenarios import console_sizes, run_console
from bench.dispatch_scenarios import DispatchBench
from bench.http_scenarios import HttpData, read_targets, run_checkout, run_read
from bench.isolation_scenario import isolation
from bench.memory import MemoryTracker
from bench.report import Report, machine_description, render_table
from bench.seed import make_reservations, seed_partners, seed_reservations, seed_users
from bench.stack import Stack, git_commit
from bench.tokens import mint
from bench.wrk import ensure_wrk
from shared.db import asyncpg_dsn

PARTNER_CACHE_TTL = 1.0
DISPATCH_SCENARIOS = {"dispatch", "latency", "isolation"}


def _log(message: str) -> None:
    print(f"[bench] {message}", flush=True)


async def seed(stack: Stack, config: BenchConfig) -> tuple[HttpData, dict[str, object]]:
    conn = await asyncpg.connect(asyncpg_dsn(stack.database_url))
    try:
        started = time.monotonic()
        users = await seed_users(conn, config.users)
        reservations = make_reservations(users, config.reservations, random.Random(42))
        await seed_reservations(conn, reservations)
        names = [(f"fast-{i}", "hook") for i in range(1, max(config.partners, 1) + 1)] + [("hang-1", "hang")]
        partners = await seed_partners(conn, stack.url("receiver"), names)
        _log(
            f"seeded {len(users)} users, {len(reservations)} payable reservations, {len(partners)} partners"
            f" in {time.monotonic() - started:.1f}s"
        )
    finally:
        await conn.close()
    tokens = {u.id: mint(stack.jwt_secret, u.id, u.role, email=u.email) for u in users}
    return HttpData(users, tokens, reservations), dict(partners)


# The dispatch scenarios load the dispatcher and the partner receiver.
DISPATCH_LOADS = {"dispatcher", "receiver"}


async def run_dispatch(
    stack: Stack, config: BenchConfig, partners: dict[str, object], report: Report, memory: MemoryTracker
) -> None:
    bench = DispatchBench(stack, partners, report)  # type: ignore[arg-type]
    bench.cache_ttl = PARTNER_CACHE_TTL
    try:
        await bench.quiesce()
        _log(f"starting the dispatcher ({config.dispatchers} process(es))")
        for index in range(config.dispatchers):
            stack.start_dispatcher(PARTNER_CACHE_TTL, config.dispatch_timeout_s, index)
        memory.sample("dispatcher started", {"dispatcher": stack.pids()["dispatcher"]})
        await bench.warm_up(min(2_000, max(100, config.events // 10)))
        if "dispatch" in config.scenarios:
            bench.raw_baseline(config.events, config.raw_concurrency)
            await bench.throughput(config.events, 1)
            memory.sample("after dispatch one partner", stack.pids(), DISPATCH_LOADS)
            await bench.throughput_ordered(config.events)
            if config.partners > 1:
                await bench.throughput(max(1, config.events // config.partners), config.partners)
                memory.sample(f"after dispatch {config.partners} partners", stack.pids(), DISPATCH_LOADS)
        if "latency" in config.scenarios:
            await bench.latency(config.latency_rate, config.latency_seconds)
            memory.sample("after latency", stack.pids(), DISPATCH_LOADS)
        if "isolation" in config.scenarios:
            await isolation(bench, config.isolation_events)
            memory.sample("after isolation", stack.pids(), DISPATCH_LOADS)
    finally:
        bench.close()


def run(config: BenchConfig) -> int:
    report = Report(config.as_dict())
    report.machine = machine_description()
    report.commit = git_commit()
    memory = MemoryTracker()
    stack = Stack(config)
    failed = False
    started = time.monotonic()
    try:
        wrk = ensure_wrk()
        stack.allocate_ports()
        durability = "fsync off" if config.pg_fast else "durable defaults"
        _log(f"embedded PostgreSQL in {stack.workdir} ({durability})")
        stack.start_database()
        data, partners = asyncio.run(seed(stack, config))
        _log("starting gateway, payment_ms, the floor app and the receiver (granian, PAYGATE_ENV=prod)")
        stack.start_services()
        memory.sample("start", stack.pids())

        def measured(phase: str, loaded: set[str]) -> None:
            memory.sample(phase, stack.pids(), loaded)

        if "checkout" in config.scenarios:
            run_checkout(stack, wrk, data, report, measured)
        if "read" in config.scenarios:
            payments = asyncio.run(read_targets(stack, data))
            run_read(stack, wrk, data, payments, report, measured)
        if DISPATCH_SCENARIOS & set(config.scenarios):
            asyncio.run(run_dispatch(stack, config, partners, report, memory))
        if "console" in config.scenarios:  # last: its 1,000,000 deliveries would weigh on the others
            sizes = console_sizes(config.quick)
            run_console(stack, report, payments=sizes[0], deliveries=sizes[1], requests=sizes[2])
            memory.sample("after console", stack.pids())
        memory.sample("end", stack.pids())
    except KeyboardInterrupt:
        report.errors.append("interrupted")
        failed = True
    except Exception as exc:
        report.errors.append(f"{type(exc).__name__}: {exc}")
        traceback.print_exc()
        for name in ("gateway", "payment-ms", "dispatcher"):
            tail = stack.log_tail(name, 1500)
            if tail.strip():
                print(f"--- {name} log (tail) ---\n{tail}", file=sys.stderr)
        failed = True
    finally:
        report.memory = memory.summary()
        report.memory_targets = memory.targets()
        stack.stop()
        report.finished_at = datetime.now(UTC).isoformat()
        report.config["wall_seconds"] = round(time.monotonic() - started, 1)
        report.write(config.output)
    print()
    print(render_table(report))
    print(f"\n[bench] wrote {config.output} ({time.monotonic() - started:.0f}s)")
    return 1 if failed or report.errors else 0


def main() -> None:
    sys.exit(run(load_config()))
