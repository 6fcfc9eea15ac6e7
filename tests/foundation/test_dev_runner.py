"""``paygate dev`` (what ``make dev`` runs): up on an embedded PostgreSQL, down without leftovers
(Ctrl-C's SIGINT as well as SIGTERM), and a second start reuses the data without seeding twice.
With ``--demo-receiver`` a checkout ends as a signed webhook verified by the demo receiver."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest

from paygate.processes import PROJECT_ROOT
from paygate.seed import DEMO_USER
from shared.db import asyncpg_dsn
from shared.embedded_pg import free_port
from tests.fixtures.database import server_folder
from tests.fixtures.waiting import wait_until


def _parents() -> dict[int, int]:
    """pid -> parent pid of every process (from /proc; the name field may hold spaces)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z":
            parents[int(entry.name)] = int(fields[1])
    return parents


def _descendants(*roots: int) -> set[int]:
    parents = _parents()
    found = set(roots) & set(parents)
    grew = True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in found} - found
        found |= more
        grew = bool(more)
    return found


def _alive(pid: int) -> bool:
    # A zombie is gone for our purposes (_parents leaves zombies out).
    return pid in _parents()


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@dataclass
class Run:
    output: str
    info: dict[str, object]
    counts: dict[str, int]
    pids: set[int]
    receiver_log: str


def _start(state_dir: Path, args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "paygate", "dev", *args],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PAYGATE_DEV_STATE_DIR": str(state_dir), "PAYGATE_DATABASE_URL": "", **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


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


def _counts(url: str) -> dict[str, int]:
    async def count() -> dict[str, int]:
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            return {
                table: int(await conn.fetchval(f"SELECT count(*) FROM {table}"))
                for table in ("users", "reservations", "partners")
            }
        finally:
            await conn.close()

    return asyncio.run(count())


def _check_out(gateway_url: str) -> str:
    """What the README's walkthrough does: log in, take the first reservation, check out."""
    with httpx.Client(base_url=gateway_url, timeout=10) as client:
        login = client.post("/auth/login", json={"email": DEMO_USER.email, "password": DEMO_USER.password})
        assert login.status_code in (200, 201), login.text
        auth = {"authorization": f"Bearer {login.json()['access_token']}"}
        items = client.get("/reservations", headers=auth).json()["items"]
        # The demo reservations have a fixed order: the README's example output depends on it.
        assert [(item["amount"], item["currency"]) for item in items] == [(120000, "JPY"), (2500, "EUR")]
        checkout = client.post(
            "/payment-gateway/reservations/checkout",
            headers={**auth, "Idempotency-Key": str(uuid.uuid4())},
            json={
                "reservation_id": items[0]["id"],
                "return_url": "http://localhost:3000/paid",
                "cancel_url": "http://localhost:3000/cancelled",
            },
        )
        assert checkout.status_code in (200, 201), checkout.text
        return str(checkout.json()["payment_id"])


def _run_once(
    state_dir: Path, ports: dict[str, int], *, args: list[str], env: dict[str, str], stop: signal.Signals
) -> Run:
    runner = _start(state_dir, args, env)
    dev_json = state_dir / "dev.json"
    receiver_log = state_dir / "logs" / "demo-receiver.log"
    receiver_lines = ""
    try:
        wait_until(lambda: dev_json.exists() or runner.poll() is not None, 90, "dev.json")
        assert runner.poll() is None, runner.stdout.read() if runner.stdout else ""
        info = json.loads(dev_json.read_text())
        assert info["gateway_url"] == f"http://127.0.0.1:{ports['gateway']}"
        assert info["payment_ms_url"] == f"http://127.0.0.1:{ports['payment_ms']}"
        assert info["gateway_internal_url"] == f"http://127.0.0.1:{ports['internal']}"
        for key in ("gateway_url", "gateway_internal_url", "payment_ms_url"):
            for path in ("/health", "/ready"):
                assert httpx.get(f"{info[key]}{path}", timeout=5).status_code == 200
        _check_dev_cors(str(info["gateway_url"]))
        assert info["console_url"] == f"http://127.0.0.1:{ports['gateway']}/console"
        sign_in = httpx.get(f"{info['console_url']}/login", timeout=5)
        assert sign_in.status_code == 200 and "Sign in to the console" in sign_in.text
        if info.get("demo_receiver_url"):
            assert info["demo_receiver_url"] == f"http://127.0.0.1:{ports['receiver']}/webhooks"
            payment = _check_out(info["gateway_url"])
            expected = f"payment.created payment={payment} status=pending amount=120000 JPY"
            wait_until(
                lambda: receiver_log.exists() and expected in receiver_log.read_text(),
                60,
                "the demo receiver to verify payment.created",
            )
            receiver_lines = receiver_log.read_text()
        postmaster = int((state_dir / "postgres" / "pgdata" / "postmaster.pid").read_text().split()[0])
        # Everything the runner started, granian's workers and PostgreSQL's backends included.
        pids = _descendants(runner.pid, postmaster)
        assert set(info["pids"].values()) <= pids  # type: ignore[union-attr]
        assert len(pids) > len(info["pids"]) + 2  # type: ignore[arg-type]
        counts = _counts(str(info["database_url"]))
    finally:
        runner.send_signal(stop)
        output, _ = runner.communicate(timeout=60)
    assert runner.returncode == 0, output
    assert "stopping" in output
    return Run(output, info, counts, pids, receiver_lines)


def _assert_nothing_left(run: Run, ports: dict[str, int]) -> None:
    wait_until(lambda: not any(_alive(pid) for pid in run.pids), 20, "every dev process to exit")
    wait_until(lambda: all(_port_free(port) for port in ports.values()), 20, "every dev port to be free")


@pytest.fixture
def state_dir() -> Iterator[Path]:
    """The runner's .paygate folder; its embedded PostgreSQL cannot live under pytest's tmp_path."""
    with server_folder("dev") as folder:
        yield folder


def test_dev_runner_starts_stops_and_reuses_its_data(state_dir: Path) -> None:
    ports = {
        "gateway": free_port(),
        "payment_ms": free_port(),
        "db": free_port(),
        "receiver": free_port(),
        "internal": free_port(),
    }

    # First start: ports from the environment (as `make dev GATEWAY_PORT=…`), the demo receiver on,
    # stopped with Ctrl-C's SIGINT.
    first = _run_once(
        state_dir,
        ports,
        args=["--demo-receiver"],
        env={
            "GATEWAY_PORT": str(ports["gateway"]),
            "PAYMENT_MS_PORT": str(ports["payment_ms"]),
            "PAYGATE_DEV_DB_PORT": str(ports["db"]),
            "PAYGATE_DEV_DEMO_RECEIVER_PORT": str(ports["receiver"]),
            "GATEWAY_INTERNAL_PORT": str(ports["internal"]),
        },
        stop=signal.SIGINT,
    )
    assert "seeded demo data" in first.output
    assert first.counts == {"users": 2, "reservations": 2, "partners": 1}
    assert {login["email"] for login in first.info["logins"]} == {"admin@paygate.dev", "user@paygate.dev"}  # type: ignore[attr-defined]
    assert "registered as partner demo-receiver" in first.receiver_log
    assert "REJECTED" not in first.receiver_log
    # The receiver's lines are shown in the runner's terminal too.
    verified = next(line for line in first.receiver_log.splitlines() if "verified" in line)
    assert verified in first.output
    _assert_nothing_left(first, ports)

    # Second start: the same ports as flags, SIGTERM; the data is reused, nothing seeded twice.
    flags = ["--gateway-port", str(ports["gateway"]), "--payment-ms-port", str(ports["payment_ms"])]
    flags += ["--db-port", str(ports["db"]), "--gateway-internal-port", str(ports["internal"])]
    second = _run_once(
        state_dir,
        ports,
        args=flags,
        env={"GATEWAY_PORT": "not-a-port-but-the-flag-wins"},
        stop=signal.SIGTERM,
    )
    assert "not seeding again" in second.output
    assert second.counts == {"users": 2, "reservations": 2, "partners": 1}
    assert second.info["demo_receiver_url"] is None
    _assert_nothing_left(second, ports)
