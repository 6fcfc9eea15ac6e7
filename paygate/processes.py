"""How paygate's processes are started: shared by the dev runner, the tests and the benchmarks,
so all three run exactly what production runs."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# service name -> ASGI factory served by granian
ASGI_SERVICES = {
    "gateway": "gateway.app:create_app",
    "payment-ms": "payment_ms.app:create_app",
}


def dispatcher_command() -> list[str]:
    """The webhook dispatcher (no HTTP port of its own; ``DISPATCHER_METRICS_PORT`` serves /metrics)."""
    return [sys.executable, "-m", "payment_ms.dispatcher"]


def asgi_command(
    service: str,
    host: str,
    port: int,
    *,
    workers: int = 1,
    access_log: bool = False,
    log_config: Path | None = None,
) -> list[str]:
    """``log_config``: a JSON dictConfig for granian's own loggers (``paygate.granian_logging``)."""
    logging_options = ["--log-config", str(log_config)] if log_config else []
    return [
        sys.executable,
        "-m",
        "granian",
        "--interface",
        "asgi",
        "--factory",
        ASGI_SERVICES[service],
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-ws",
        "--log-level",
        "warning",
        "--access-log" if access_log else "--no-access-log",
        *logging_options,
    ]


@dataclass
class ManagedProcess:
    """A child process in its own process group, stopped with everything it started."""

    name: str
    command: list[str]
    env: Mapping[str, str] = field(default_factory=dict)
    health_url: str | None = None
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        stdout = open(self.log_path, "ab") if self.log_path else None  # noqa: SIM115 (owned by the child)
        self.process = subprocess.Popen(
            self.command,
            cwd=PROJECT_ROOT,
            env={**os.environ, **self.env},
            stdout=stdout,
            stderr=subprocess.STDOUT if stdout else None,
            start_new_session=True,
        )
        if stdout:
            stdout.close()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def wait_healthy(self, timeout: float = 30.0) -> None:
        """Poll the health URL until it answers 200; fail early if the process died."""
        assert self.process is not None and self.health_url
        deadline = time.monotonic() + timeout
        last_error = "no answer"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with code {self.process.returncode} before it was healthy"
                )
            try:
                if httpx.get(self.health_url, timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError as exc:
                last_error = type(exc).__name__
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} was not healthy within {timeout:.0f}s ({last_error})")

    def signal(self, sig: int) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the whole group, then SIGKILL what is left after ``timeout``."""
        if self.process is None:
            return
        self.signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            self.process.wait(5)
        # granian workers share the group: make sure none outlives the master.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
