"""``paygate dev`` (what ``make dev`` runs): up on an embedded PostgreSQL, down without leftovers,
and a second start reuses the data without seeding twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import httpx

from paygate.processes import PROJECT_ROOT
from shared.db import asyncpg_dsn
from shared.embedded_pg import free_port


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is gone for our purposes.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def _wait_for(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _start(state_dir: Path, ports: dict[str, int]) -> subprocess.Popen[str]:
    env = {**os.environ, "PAYGATE_DEV_STATE_DIR": str(state_dir), "PAYGATE_DATABASE_URL": ""}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "paygate",
            "dev",
            "--gateway-port",
            str(ports["gateway"]),
            "--payment-ms-port",
            str(ports["payment_ms"]),
            "--db-port",
            str(ports["db"]),
        ],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _run_once(state_dir: Path, ports: dict[str, int]) -> tuple[str, dict[str, object], list[int]]:
    runner = _start(state_dir, ports)
    dev_json = state_dir / "dev.json"
    try:
        _wait_for(lambda: dev_json.exists() or runner.poll() is not None, 60, "dev.json")
        assert runner.poll() is None, runner.stdout.read() if runner.stdout else ""
        info = json.loads(dev_json.read_text())
        for key in ("gateway_url", "payment_ms_url"):
            for path in ("/health", "/ready"):
                assert httpx.get(f"{info[key]}{path}", timeout=5).status_code == 200
        _check_dev_cors(str(info["gateway_url"]))
        postmaster = (state_dir / "postgres" / "pgdata" / "postmaster.pid").read_text().split()
        pids = [*info["pids"].values(), int(postmaster[0]), runner.pid]  # type: ignore[union-attr]
        users = _count_users(str(info["database_url"]))
    finally:
        runner.send_signal(signal.SIGTERM)
        output, _ = runner.communicate(timeout=60)
    assert runner.returncode == 0, output
    return output, {"users": users, **info}, pids


def _check_dev_cors(gateway_url: str) -> None:
    """A frontend on localhost:3000 may call the dev gateway from a browser; another origin may not."""
    url = f"{gateway_url}/payment-gateway/reservations/checkout"
    for origin, allowed in (("http://localhost:3000", True), ("https://evil.example", False)):
        preflight = httpx.options(
            url,
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
            },
            timeout=5,
        )
        granted = preflight.headers.get("access-control-allow-origin")
        assert (granted == origin) if allowed else (granted is None), (origin, preflight.headers)


def _count_users(url: str) -> int:
    import asyncio

    async def count() -> int:
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            return int(await conn.fetchval("SELECT count(*) FROM users"))
        finally:
            await conn.close()

    return asyncio.run(count())


def test_dev_runner_starts_stops_and_reuses_its_data(tmp_path: Path) -> None:
    ports = {"gateway": free_port(), "payment_ms": free_port(), "db": free_port()}

    output, info, pids = _run_once(tmp_path, ports)
    assert "seeded demo data" in output
    assert info["users"] == 2
    assert {login["email"] for login in info["logins"]} == {"admin@paygate.dev", "user@paygate.dev"}  # type: ignore[attr-defined]
    _wait_for(lambda: not any(_alive(pid) for pid in pids), 20, "every dev process to exit")

    output, info, pids = _run_once(tmp_path, ports)
    assert "not seeding again" in output
    assert info["users"] == 2
    _wait_for(lambda: not any(_alive(pid) for pid in pids), 20, "every dev process to exit")
