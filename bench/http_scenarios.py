"""Scenarios 1 (checkout) and 2 (read): wrk against the gateway, payment_ms straight, and the floor app.

Baselines run first, then the gateway: the payments table only grows during the run, so the gateway
measures against the largest table (conservative for its ratios)."""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx

from bench.pg_stats import statements_between
from bench.profile import print_profile, profiling
from bench.report import Report, Result, Target
from bench.seed import BenchReservation, BenchUser
from bench.stack import FRONTEND_ORIGIN, Stack
from bench.wrk import WrkResult, run_wrk
from shared.db import asyncpg_dsn

WARMUP_ROWS = 4_000


@dataclass
class HttpData:
    users: list[BenchUser]
    tokens: dict[uuid.UUID, str]
    reservations: list[BenchReservation]  # payable, seeded in the database


def _log(message: str) -> None:
    print(f"[bench] {message}", flush=True)


# Concurrent writers of the NOTIFY diagnostics, beside BENCH_CONNECTIONS (64).
NOTIFY_WRITERS = (1, 8)


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def _create_lines(users: list[BenchUser], count: int, rng: random.Random) -> list[str]:
    """Payment creations for payment_ms straight and the floor app: reservation ids payment_ms has
    never seen (it does not own reservations), the users' real ids."""
    return [f"{uuid.uuid4()} {users[i % len(users)].id} {rng.randint(500, 99_999)} EUR" for i in range(count)]


def _probe(method: str, url: str, headers: dict[str, str], body: dict[str, object] | None) -> None:
    """One request by hand before the load: a broken setup fails loudly instead of measuring 4xx."""
    response = httpx.request(method, url, headers=headers, json=body, timeout=10)
    if response.status_code >= 300:
        raise RuntimeError(f"probe {method} {url} answered {response.status_code}: {response.text[:500]}")


async def _count(url: str, sql: str) -> int:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        return int(await conn.fetchval(sql))
    finally:
        await conn.close()


def count_payments(stack: Stack) -> int:
    return asyncio.run(_count(stack.database_url, "SELECT count(*) FROM payments"))


def _cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {name: round(after[name] - before.get(name, 0.0), 3) for name in after}


def _measure(
    stack: Stack,
    wrk: str,
    name: str,
    title: str,
    url: str,
    mode: str,
    data: Path,
    warmup: Path | None,
    duration_s: float,
    connections: int | None = None,
) -> Result:
    """``connections``: another number of concurrent clients than ``BENCH_CONNECTIONS``."""
    config = stack.config
    connections = connections or config.connections
    common = {
        "connections": connections,
        "threads": min(config.wrk_threads, connections),
        "service_token": stack.service_token,
    }
    if warmup is not None and config.warmup_s > 0:
        run_wrk(wrk, url, mode, warmup, duration_s=config.warmup_s, nonce=secrets.token_hex(4), **common)  # type: ignore[arg-type]
    creates = not mode.startswith("read")
    rows_before = count_payments(stack) if creates else 0
    statements = stack.statements()
    with profiling(name, stack.pids()) as profiles:
        before = stack.cpu_seconds()
        measured: WrkResult = run_wrk(
            wrk,
            url,
            mode,
            data,
            duration_s=duration_s,
            nonce=secrets.token_hex(4),
            **common,  # type: ignore[arg-type]
        )
        cpu = _cpu_delta(before, stack.cpu_seconds())
    cpu["wrk"] = round(measured.cpu_seconds, 3)
    rows: dict[str, int] = {}
    if creates:
        rows = {
            "created": count_payments(stack) - rows_before,
            "answered_2xx": measured.requests - measured.non_2xx - measured.socket_errors,
        }
    per_request = {k: round(v * 1000 / max(1, measured.requests), 3) for k, v in cpu.items()}
    machine_seconds = measured.seconds * (os.cpu_count() or 1)
    result = Result(
        name=name,
        title=title,
        unit="req/s",
        throughput=measured.rate,
        p50_ms=measured.p50_ms,
        p99_ms=measured.p99_ms,
        count=measured.requests,
        errors=measured.non_2xx + measured.socket_errors,
        details={
            "wrk": measured.as_dict(),
            "cpu_seconds": cpu,
            "cpu_ms_per_request": per_request,
            # the share of the whole machine the load generator used during the measurement
            "payment_rows": rows,
            "statements": statements_between(statements, stack.statements()),
            "generator_cpu_share": round(measured.cpu_seconds / max(machine_seconds, 1e-9), 3),
        },
    )
    if profiles:
        result.details["profiled"] = True
        result.details["profile"] = profiles
        print_profile(name, profiles)
    wrapped = measured.wrapped and not mode.startswith("read")
    _log(
        f"{name}: {measured.rate:,.0f} req/s  p50 {measured.p50_ms:.1f} ms  p99 {measured.p99_ms:.1f} ms"
        f"  non-2xx {measured.non_2xx}  socket errors {measured.socket_errors}"
        + ("  (data wrapped: some requests reused a reservation)" if wrapped else "")
    )
    return result


def _diagnostic(
    stack: Stack,
    wrk: str,
    report: Report,
    name: str,
    title: str,
    mode: str,
    lines: Path,
    duration_s: float,
    relate_to: str | None,
    connections: int | None = None,
) -> None:
    """A short unwarmed run that explains a target's figure (a baseline, never a target itself)."""
    result = _measure(stack, wrk, name, title, stack.url("floor"), mode, lines, None, duration_s, connections)
    result.is_baseline = True
    result.details["diagnostic"] = True
    report.add(result)
    if relate_to is not None:
        report.relate(name, relate_to)


# Which processes each HTTP scenario loads (for the memory growth check).
LOADS = {
    "floor": {"floor"},
    "direct": {"payment-ms"},
    "gateway": {"gateway", "payment-ms"},
}
Measured = Callable[[str, set[str]], None]


def _ignore(_phase: str, _loaded: set[str]) -> None:
    return None


def run_checkout(
    stack: Stack, wrk: str, data: HttpData, report: Report, measured: Measured = _ignore
) -> None:
    config = stack.config
    rng = random.Random(7)
    work = stack.workdir
    total = 200_000 if not config.quick else 40_000
    create_lines = _create_lines(data.users, total + WARMUP_ROWS, rng)
    floor_file = _write(work / "floor.txt", create_lines[WARMUP_ROWS:])
    create_warm = _write(work / "create-warm.txt", create_lines[:WARMUP_ROWS])
    direct_file = _write(work / "direct.txt", _create_lines(data.users, total, rng))

    checkout_lines = [f"{r.id} {data.tokens[r.user_id]}" for r in data.reservations]
    warm_rows = min(WARMUP_ROWS, len(checkout_lines) // 5)
    checkout_warm = _write(work / "checkout-warm.txt", checkout_lines[1:warm_rows])
    checkout_file = _write(work / "checkout.txt", checkout_lines[warm_rows:])

    first = data.reservations[0]
    token = data.tokens[first.user_id]
    probe_body: dict[str, object] = {
        "reservation_id": str(uuid.uuid4()),
        "user_id": str(first.user_id),
        "amount": 1234,
        "currency": "EUR",
        "description": "bench probe",
        "return_url": f"{FRONTEND_ORIGIN}/return",
        "cancel_url": f"{FRONTEND_ORIGIN}/cancel",
    }
    _probe("POST", f"{stack.url('floor')}/payments", {}, probe_body)
    _probe(
        "POST",
        f"{stack.url('payment-ms')}/api/payments",
        {"X-Service-Token": stack.service_token, "Idempotency-Key": uuid.uuid4().hex},
        {**probe_body, "reservation_id": str(uuid.uuid4())},  # one live payment per reservation
    )
    _probe(
        "POST",
        f"{stack.url('gateway')}/payment-gateway/reservations/checkout",
        {"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex},
        {
            "reservation_id": str(first.id),
            "return_url": f"{FRONTEND_ORIGIN}/return",
            "cancel_url": f"{FRONTEND_ORIGIN}/cancel",
        },
    )

    duration = config.duration_s

    def checkout(name: str, title: str, service: str, mode: str, lines: Path, warmup: Path) -> Result:
        """A measured run, added to the report, then the processes' CPU it cost."""
        result = _measure(stack, wrk, name, title, stack.url(service), mode, lines, warmup, duration)
        report.add(result)
        measured(f"after {name}", LOADS[name.removeprefix("checkout.")])
        return result

    floor = checkout(
        "checkout.floor", "raw asyncpg INSERT (Litestar + granian)", "floor", "floor", floor_file, create_warm
    )
    floor.is_baseline = True
    short = min(duration, 8.0)
    if config.diagnostics:
        outbox_modes = (
            ("floor_outbox_no_notify", "raw asyncpg: payment + event row in one transaction"),
            ("floor_outbox", "raw asyncpg: payment + event row + pg_notify in one transaction"),
        )
        contract = (
            "floor_contract",
            "raw asyncpg, ONE statement: idempotency key + payment + event + notify",
        )
        for mode, label in (*outbox_modes, contract):
            # its own reservations: payment_ms allows one live payment per reservation
            own = _write(work / f"{mode}.txt", _create_lines(data.users, total // 4, rng))
            _diagnostic(stack, wrk, report, f"checkout.{mode}", label, mode, own, short, "checkout.floor")
            measured(f"after checkout.{mode}", LOADS["floor"])
        # NOTIFY at scale (issue 16): the commit rate with and without the notification by writer count
        for writers in NOTIFY_WRITERS:
            for mode, label in outbox_modes:
                own = _write(work / f"{mode}-{writers}.txt", _create_lines(data.users, total // 8, rng))
                name, title = f"checkout.{mode}.writers_{writers}", f"{label}, {writers} concurrent writer(s)"
                _diagnostic(stack, wrk, report, name, title, mode, own, short, None, writers)
            report.relate(
                f"checkout.floor_outbox.writers_{writers}",
                f"checkout.floor_outbox_no_notify.writers_{writers}",
            )
    direct = checkout(
        "checkout.direct",
        "POST /api/payments straight to payment_ms",
        "payment-ms",
        "create",
        direct_file,
        create_warm,
    )
    direct.is_baseline = True
    if config.diagnostics:  # the hop's floor: the floor app forwarding to payment_ms, as the gateway does
        for mode, label in (
            ("floor_hop", "the floor app forwarding the create's bytes to payment_ms (aiohttp)"),
            ("floor_hop_typed", "the same, decoding and encoding the contract both ways"),
        ):
            own = _write(work / f"{mode}.txt", _create_lines(data.users, total // 4, rng))
            _diagnostic(stack, wrk, report, f"checkout.{mode}", label, mode, own, short, "checkout.direct")
    gateway = checkout(
        "checkout.gateway",
        "POST /payment-gateway/reservations/checkout (JWT)",
        "gateway",
        "checkout",
        checkout_file,
        checkout_warm,
    )
    to_direct = report.relate("checkout.gateway", "checkout.direct")
    to_floor = (gateway.throughput / floor.throughput) if floor.throughput else None
    gateway.details["ratio_to_floor"] = to_floor
    gateway.targets = [
        Target("ratio to direct payment_ms", to_direct, ">=", 0.6),
        Target("ratio to raw-INSERT floor", to_floor, ">=", 0.3),
        Target("p99 ms at 64 connections", gateway.p99_ms, "<=", 100),
    ]
    report.relate("checkout.direct", "checkout.floor")
    # Every 2xx answer is a row; requests still in flight when the warm-up or the measured wrk run
    # stopped may add up to one window of connections each.
    for result in report.results:
        rows = result.details.get("payment_rows") or {}
        ok, created = rows.get("answered_2xx", 0), rows.get("created", 0)
        if rows and not ok <= created <= ok + 2 * config.connections:
            report.notes.append(f"{result.name}: {ok} 2xx answers but {created} payment rows")
    outbox_floor = report.get("checkout.floor_outbox")
    if outbox_floor is not None and outbox_floor.throughput:
        for result in (direct, gateway):
            result.details["ratio_to_floor_outbox"] = result.throughput / outbox_floor.throughput


async def read_targets(stack: Stack, data: HttpData, limit: int = 5000) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Payments created through the gateway during the checkout scenario, with their owners."""
    conn = await asyncpg.connect(stack.database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        rows = await conn.fetch(
            "SELECT p.id, p.user_id FROM payments p JOIN reservations r ON r.id = p.reservation_id LIMIT $1",
            limit,
        )
    finally:
        await conn.close()
    return [(row["id"], row["user_id"]) for row in rows if row["user_id"] in data.tokens]


def run_read(
    stack: Stack,
    wrk: str,
    data: HttpData,
    payments: list[tuple[uuid.UUID, uuid.UUID]],
    report: Report,
    measured: Measured = _ignore,
) -> None:
    if not payments:
        report.errors.append("read: no payments created through the gateway to read")
        return
    work = stack.workdir
    gateway_file = _write(work / "read-gateway.txt", [f"{pid} {data.tokens[uid]}" for pid, uid in payments])
    direct_file = _write(work / "read-direct.txt", [str(pid) for pid, _ in payments])
    pid, uid = payments[0]
    _probe(
        "GET", f"{stack.url('payment-ms')}/api/payments/{pid}", {"X-Service-Token": stack.service_token}, None
    )
    _probe(
        "GET",
        f"{stack.url('gateway')}/payment-gateway/{pid}",
        {"Authorization": f"Bearer {data.tokens[uid]}"},
        None,
    )
    duration = stack.config.read_duration_s
    direct = _measure(
        stack,
        wrk,
        "read.direct",
        "GET /api/payments/{id} straight to payment_ms",
        stack.url("payment-ms"),
        "read_direct",
        direct_file,
        direct_file,
        duration,
    )
    direct.is_baseline = True
    report.add(direct)
    measured("after read.direct", LOADS["direct"])
    gateway = _measure(
        stack,
        wrk,
        "read.gateway",
        "GET /payment-gateway/{id} (JWT)",
        stack.url("gateway"),
        "read_gateway",
        gateway_file,
        gateway_file,
        duration,
    )
    report.add(gateway)
    measured("after read.gateway", LOADS["gateway"])
    report.relate("read.gateway", "read.direct")
