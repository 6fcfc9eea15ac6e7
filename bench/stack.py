"""The system under test, started the way production starts it: embedded PostgreSQL, migrations,
granian-served services with production settings, plus the bench's own processes (the raw-INSERT
floor app, the partner receiver). Everything started here is stopped here."""

from __future__ import annotations

import contextlib
import json
import secrets
import shutil
import subprocess
import sys
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bench.config import BenchConfig
from bench.pg_stats import postmaster_pid, psql, statement_totals
from bench.procs import tree_sample
from paygate.processes import ManagedProcess, asgi_command, dispatcher_command

if TYPE_CHECKING:
    from shared.embedded_pg import EmbeddedPostgres

HOST = "127.0.0.1"
# Where the checkout's return/cancel URLs point (a frontend that is never called).
FRONTEND_ORIGIN = "http://127.0.0.1:3000"


def _strong_secret() -> str:
    return secrets.token_urlsafe(48)


def granian_command(factory: str, port: int, workers: int) -> list[str]:
    """The same granian flags ``paygate.processes.asgi_command`` uses, for an app of the bench."""
    command = asgi_command("gateway", HOST, port, workers=workers)
    command[command.index("gateway.app:create_app")] = factory
    return command


def with_slow_log(options: dict[str, str], ms: int) -> dict[str, str]:
    """What stalls a scenario, in the PostgreSQL log: autovacuum, checkpoints, statements slower than
    ``ms`` and their plans (auto_explain), with epoch timestamps."""
    libraries = [options.get("shared_preload_libraries", ""), "auto_explain"]
    return options | {
        "log_autovacuum_min_duration": "0",
        "log_checkpoints": "on",
        "log_min_duration_statement": str(ms),
        "log_line_prefix": "'%n '",
        "shared_preload_libraries": ",".join(lib for lib in libraries if lib),
        "auto_explain.log_min_duration": str(ms),
    }


@dataclass
class Stack:
    config: BenchConfig
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="paygate-bench-")))
    service_token: str = field(default_factory=_strong_secret)
    jwt_secret: str = field(default_factory=_strong_secret)
    database_url: str = ""
    processes: dict[str, ManagedProcess] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    postgres: EmbeddedPostgres | None = None

    @property
    def log_dir(self) -> Path:
        path = self.workdir / "logs"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def url(self, name: str) -> str:
        return f"http://{HOST}:{self.ports[name]}"

    # ------------------------------------------------------------------------------------ database

    def start_database(self) -> str:
        from paygate.migrations import upgrade

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from shared.embedded_pg import FAST_UNSAFE_OPTIONS, EmbeddedPostgres, free_port

        options = dict(FAST_UNSAFE_OPTIONS) if self.config.pg_fast else {}
        if self.config.pg_statements:
            options["shared_preload_libraries"] = "pg_stat_statements"
        if self.config.pg_log_ms:
            options = with_slow_log(options, self.config.pg_log_ms)
        server = EmbeddedPostgres(self.workdir / "postgres", free_port(), options)
        server.start()
        self.postgres = server
        self.database_url = server.url()
        upgrade(self.database_url)
        if self.config.pg_statements:
            psql(server, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        return self.database_url

    def statements(self) -> dict[str, tuple[str, int, float, int]]:
        """``BENCH_PG_STATEMENTS``: PostgreSQL's per-statement totals now (``pg_stats.statement_totals``);
        empty when off."""
        if not self.config.pg_statements or self.postgres is None:
            return {}
        return statement_totals(self.postgres)

    def postmaster_pid(self) -> int | None:
        return None if self.postgres is None else postmaster_pid(self.postgres)

    # ------------------------------------------------------------------------------------ services

    def service_env(self) -> dict[str, str]:
        """Production settings with strong random secrets; access logs off, no debug, no reload."""
        payment_ms = self.url("payment-ms")
        return {
            "PAYGATE_ENV": "prod",
            "PAYGATE_DATABASE_URL": self.database_url,
            "PAYGATE_SERVICE_TOKEN": self.service_token,
            "PAYGATE_ACCESS_LOG": "false",
            "PAYGATE_LOG_LEVEL": "WARNING",
            "GATEWAY_PAYMENT_MS_URL": payment_ms,
            "GATEWAY_JWT_SECRET": self.jwt_secret,
            "GATEWAY_ALLOWED_REDIRECT_ORIGINS": json.dumps([FRONTEND_ORIGIN]),
            "GATEWAY_PARTNER_ALLOWED_HOSTS": json.dumps([HOST]),
            "GATEWAY_INTERNAL_EVENTS_URL": "off",
            "GATEWAY_INTERNAL_PORT": str(self.ports["gateway-internal"]),
            "PAYMENT_MS_PUBLIC_BASE_URL": payment_ms,
            "PAYMENT_MS_ALLOW_MOCK_PROVIDER": "true",  # the benchmark pays with the mock, outside dev
            "BENCH_FLOOR_DATABASE_URL": self.database_url,
            "BENCH_FLOOR_PAYMENT_MS_URL": payment_ms,
        }

    def _start(self, proc: ManagedProcess) -> ManagedProcess:
        self.processes[proc.name] = proc
        proc.start()
        return proc

    def allocate_ports(self) -> None:
        from shared.embedded_pg import free_port

        for name in ("gateway", "gateway-internal", "payment-ms", "floor", "receiver", "dispatcher-metrics"):
            self.ports[name] = free_port()

    def start_services(self) -> None:
        env = self.service_env()
        workers = self.config.granian_workers
        started = [
            self._start(
                ManagedProcess(
                    "payment-ms",
                    asgi_command("payment-ms", HOST, self.ports["payment-ms"], workers=workers),
                    env,
                    f"{self.url('payment-ms')}/health",
                    self.log_dir / "payment-ms.log",
                )
            ),
            self._start(
                ManagedProcess(
                    "gateway",
                    asgi_command("gateway", HOST, self.ports["gateway"], workers=workers),
                    env,
                    f"{self.url('gateway')}/health",
                    self.log_dir / "gateway.log",
                )
            ),
            self._start(
                ManagedProcess(
                    "floor",
                    granian_command("bench.floor_app:create_app", self.ports["floor"], workers),
                    env,
                    f"{self.url('floor')}/schema/openapi.json",
                    self.log_dir / "floor.log",
                )
            ),
            self._start(
                ManagedProcess(
                    "receiver",
                    [sys.executable, "-m", "bench.receiver", "--port", str(self.ports["receiver"])],
                    {},
                    f"{self.url('receiver')}/health",
                    self.log_dir / "receiver.log",
                )
            ),
        ]
        for proc in started:
            proc.wait_healthy(60)

    def start_dispatcher(
        self, partner_cache_ttl: float, request_timeout: float, index: int = 0
    ) -> ManagedProcess:
        """One dispatcher process (production defaults but for the partner cache TTL, shortened so a
        scenario's partner set is live within a second, and the request timeout, shortened so a
        hanging partner times out within a scenario; loopback partners allow-listed). ``index`` > 0:
        one more process beside the first (``BENCH_DISPATCHERS``), named ``dispatcher-<n>``."""
        from shared.embedded_pg import free_port

        name = "dispatcher" if index == 0 else f"dispatcher-{index + 1}"
        metrics = f"{name}-metrics"
        self.ports.setdefault(metrics, free_port())
        env = {
            **self.service_env(),
            "DISPATCHER_GATEWAY_URL": self.url("gateway-internal"),  # /internal/partners
            "DISPATCHER_ALLOWED_HOSTS": json.dumps([HOST]),
            "DISPATCHER_PARTNER_CACHE_TTL_SECONDS": str(partner_cache_ttl),
            "DISPATCHER_REQUEST_TIMEOUT_SECONDS": str(request_timeout),
            "DISPATCHER_METRICS_PORT": str(self.ports[metrics]),
        }
        proc = self._start(
            ManagedProcess(
                name,
                dispatcher_command(),
                env,
                f"{self.url(metrics)}/metrics",
                self.log_dir / f"{name}.log",
            )
        )
        proc.wait_healthy(60)
        return proc

    # ------------------------------------------------------------------------------------ accounting

    def pids(self) -> dict[str, int]:
        found = {name: proc.pid for name, proc in self.processes.items() if proc.process is not None}
        postmaster = self.postmaster_pid()
        if postmaster:
            found["postgres"] = postmaster
        return found

    def cpu_seconds(self) -> dict[str, float]:
        return {name: tree_sample(pid).cpu_seconds for name, pid in self.pids().items()}

    def log_tail(self, name: str, chars: int = 3000) -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    # ------------------------------------------------------------------------------------ teardown

    def stop(self) -> None:
        # The receiver first: requests held open by the hanging partner then end at once, so the
        # dispatcher's graceful drain does not wait for its request timeout.
        order = sorted(
            self.processes.values(), key=lambda p: (p.name != "receiver", not p.name.startswith("dispatcher"))
        )
        for proc in order:
            with contextlib.suppress(Exception):
                proc.stop()
        if self.postgres is not None:
            with contextlib.suppress(Exception):
                self.postgres.stop()
        if not self.config.keep_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
        else:
            print(f"[bench] kept {self.workdir}", flush=True)


def git_commit() -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
        if out.returncode == 0:
            return out.stdout.strip()
    return "unknown"
