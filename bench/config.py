"""What a bench run does, from the environment: the issue's figures by default, ``BENCH_QUICK=1``
for a short development run. Every knob is an env var so a run can be reproduced from its JSON."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BENCH_ROOT = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_ROOT / "results"


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass
class BenchConfig:
    quick: bool
    # HTTP scenarios (wrk)
    connections: int
    wrk_threads: int
    duration_s: float
    read_duration_s: float
    warmup_s: float
    users: int
    reservations: int
    # dispatch scenarios
    events: int
    partners: int
    latency_rate: float
    latency_seconds: float
    isolation_events: int
    raw_concurrency: int
    # the dispatcher's DISPATCHER_REQUEST_TIMEOUT_SECONDS: short, so the hanging partner of the isolation
    # scenario times out and is retried while the healthy one is measured (production default: 15 s)
    dispatch_timeout_s: float
    # extra floor variants (payment + event row, with and without NOTIFY) that explain the gap
    diagnostics: bool
    # what runs
    scenarios: list[str] = field(default_factory=list)
    # PostgreSQL: durable defaults unless BENCH_PG_FAST=1 (fsync/synchronous_commit off)
    pg_fast: bool = False
    pg_statements: bool = False
    # log autovacuum, checkpoints and statements slower than this many ms (0: off) to the PG log
    pg_log_ms: int = 0
    granian_workers: int = 1
    dispatchers: int = 1
    output: Path = RESULTS_DIR / "latest.json"
    keep_workdir: bool = False

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["output"] = str(self.output)
        return data


ALL_SCENARIOS = ["checkout", "read", "dispatch", "latency", "isolation", "console"]


def load_config() -> BenchConfig:
    quick = _env_flag("BENCH_QUICK")
    scenarios = [s.strip() for s in os.environ.get("BENCH_SCENARIOS", "").split(",") if s.strip()]
    unknown = set(scenarios) - set(ALL_SCENARIOS)
    if unknown:
        raise SystemExit(f"BENCH_SCENARIOS: unknown {sorted(unknown)}; choose from {ALL_SCENARIOS}")
    return BenchConfig(
        quick=quick,
        connections=_env_int("BENCH_CONNECTIONS", 64),
        wrk_threads=_env_int("BENCH_WRK_THREADS", 2),
        duration_s=_env_float("BENCH_DURATION", 4.0 if quick else 15.0),
        read_duration_s=_env_float("BENCH_READ_DURATION", 4.0 if quick else 10.0),
        warmup_s=_env_float("BENCH_WARMUP", 1.0 if quick else 3.0),
        users=_env_int("BENCH_USERS", 8 if quick else 32),
        reservations=_env_int("BENCH_RESERVATIONS", 12_000 if quick else 40_000),
        events=_env_int("BENCH_EVENTS", 2_000 if quick else 20_000),
        partners=_env_int("BENCH_PARTNERS", 10),
        latency_rate=_env_float("BENCH_LATENCY_RATE", 100.0),
        latency_seconds=_env_float("BENCH_LATENCY_SECONDS", 4.0 if quick else 20.0),
        isolation_events=_env_int("BENCH_ISOLATION_EVENTS", 2_000 if quick else 20_000),
        raw_concurrency=_env_int("BENCH_RAW_CONCURRENCY", 64),
        dispatch_timeout_s=_env_float("BENCH_DISPATCH_TIMEOUT", 2.0),
        diagnostics=os.environ.get("BENCH_DIAGNOSTICS", "1").strip() not in {"0", "false", "no", "off"},
        scenarios=scenarios or list(ALL_SCENARIOS),
        pg_fast=_env_flag("BENCH_PG_FAST"),
        pg_statements=_env_flag("BENCH_PG_STATEMENTS"),
        pg_log_ms=_env_int("BENCH_PG_LOG_MS", 0),
        granian_workers=_env_int("BENCH_GRANIAN_WORKERS", 1),
        dispatchers=_env_int("BENCH_DISPATCHERS", 1),
        output=Path(os.environ.get("BENCH_OUTPUT") or RESULTS_DIR / "latest.json"),
        keep_workdir=_env_flag("BENCH_KEEP"),
    )
