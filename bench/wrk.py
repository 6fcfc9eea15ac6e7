"""wrk (Debian's package): the load generator of the HTTP scenarios.

wrk is C with LuaJIT and a closed loop of ``connections`` keep-alive connections: it costs far less
CPU per request than the servers it drives, and the bench measures exactly how much it used (its
rusage) so the report can show the generator did not starve the system under test.

Latency accounting: wrk measures each request from send to response on a closed loop, so at
saturation p50/p99 are the service times a client with 64 requests in flight sees; it does not
correct for coordinated omission (wrk2 does, at a fixed rate). The targets of the issue are stated
at 64 connections, which is what this measures.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.config import BENCH_ROOT

LUA_SCRIPT = BENCH_ROOT / "lua" / "paygate.lua"


class WrkMissing(RuntimeError):
    pass


def ensure_wrk() -> str:
    """Find wrk, installing Debian's package when missing and we may (root)."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        raise WrkMissing(
            "wrk is not installed and this is not root: run `sudo apt-get install -y wrk` and retry"
        )
    print("[bench] installing wrk (apt-get install -y wrk)", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", "wrk"]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, capture_output=True)
        result = subprocess.run(install, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            raise WrkMissing(f"apt-get install wrk failed:\n{result.stderr[-2000:]}")
    found = shutil.which("wrk")
    if not found:
        raise WrkMissing("wrk still not on PATH after installing it")
    return found


@dataclass
class WrkResult:
    requests: int
    seconds: float
    rate: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    non_2xx: int
    socket_errors: int
    rows: int
    wrapped: bool
    cpu_seconds: float

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def run_wrk(
    wrk: str,
    url: str,
    mode: str,
    data_file: Path,
    *,
    duration_s: float,
    connections: int,
    threads: int,
    nonce: str,
    service_token: str = "",
    timeout_s: float = 10.0,
) -> WrkResult:
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as tmp:
        result_file = Path(tmp) / "result.json"
        command = [
            wrk,
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(duration_s))}s",
            f"--timeout={timeout_s:g}s",
            "--latency",
            "-s",
            str(LUA_SCRIPT),
            url,
            "--",
            mode,
            str(data_file),
            nonce,
            str(threads),
            service_token,
        ]
        started = time.monotonic()
        out_path, err_path = Path(tmp) / "stdout", Path(tmp) / "stderr"
        with out_path.open("wb") as out, err_path.open("wb") as err:
            env = {**os.environ, "BENCH_WRK_RESULT": str(result_file)}
            proc = subprocess.Popen(command, stdout=out, stderr=err, env=env)
            _pid, status, rusage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0 or not result_file.exists():
            output = out_path.read_text(errors="replace") + err_path.read_text(errors="replace")
            raise RuntimeError(
                f"wrk failed ({proc.returncode}) after {time.monotonic() - started:.1f}s:\n{output[-3000:]}"
            )
        raw = json.loads(result_file.read_text())
    seconds = raw["duration_us"] / 1e6
    errors = raw["errors"]
    latency = raw["latency_us"]
    return WrkResult(
        requests=raw["requests"],
        seconds=seconds,
        rate=raw["requests"] / seconds if seconds else 0.0,
        p50_ms=latency["p50"] / 1000,
        p90_ms=latency["p90"] / 1000,
        p99_ms=latency["p99"] / 1000,
        max_ms=latency["max"] / 1000,
        non_2xx=errors["status"],
        socket_errors=errors["connect"] + errors["read"] + errors["write"] + errors["timeout"],
        rows=raw["rows"],
        wrapped=bool(raw["wrapped"]),
        cpu_seconds=rusage.ru_utime + rusage.ru_stime,
    )
