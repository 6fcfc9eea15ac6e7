"""``make dev``: the whole system on 127.0.0.1, on an embedded PostgreSQL unless a URL is configured.

Data lives in ``.paygate/`` and is reused; demo data is seeded once; the URLs and demo logins are
printed and written to ``.paygate/dev.json``. SIGINT or SIGTERM stops every process started here,
the database included.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from paygate.processes import PROJECT_ROOT, ManagedProcess, asgi_command, dispatcher_command
from shared.db import create_engine
from shared.settings import PaygateSettings

# Where a frontend under development usually runs (create-react-app/Next.js, Vite): a browser there may
# call the dev gateway. GATEWAY_CORS_ORIGINS (environment or .env) replaces them.
DEV_CORS_ORIGINS = (
    "http://localhost:3000",
    "http://127.0.0.1:3000",
    "http://localhost:5173",
    "http://127.0.0.1:5173",
)
STATE_DIR = Path(os.environ.get("PAYGATE_DEV_STATE_DIR") or PROJECT_ROOT / ".paygate")


@dataclass
class DevPorts:
    gateway: int = 8000
    payment_ms: int = 8001
    database: int = 54329


def _log(message: str) -> None:
    print(f"[paygate dev] {message}", flush=True)


async def _seed(url: str) -> bool:
    from paygate.seed import seed_demo_data

    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        return await seed_demo_data(engine)
    finally:
        await engine.dispose()


def _cors_origins() -> list[str]:
    from gateway.settings import GatewaySettings

    return GatewaySettings().cors_origins or list(DEV_CORS_ORIGINS)


def dev_processes(url: str, ports: DevPorts, host: str, log_dir: Path) -> list[ManagedProcess]:
    gateway_url = f"http://{host}:{ports.gateway}"
    payment_url = f"http://{host}:{ports.payment_ms}"
    env = {
        "PAYGATE_ENV": "dev",
        "PAYGATE_DATABASE_URL": url,
        "GATEWAY_PAYMENT_MS_URL": payment_url,
        "PAYMENT_MS_PUBLIC_BASE_URL": payment_url,
        "PAYMENT_MS_GATEWAY_URL": gateway_url,
        # The dispatcher delivers payment events to the gateway too (reservations follow payments).
        "GATEWAY_INTERNAL_EVENTS_URL": f"{gateway_url}/internal/payment-events",
        "DISPATCHER_GATEWAY_URL": gateway_url,
        "GATEWAY_CORS_ORIGINS": json.dumps(_cors_origins()),
    }
    from shared.embedded_pg import free_port  # imported late, like EmbeddedPostgres below

    metrics_port = free_port()
    return [
        ManagedProcess(
            "payment-ms",
            asgi_command("payment-ms", host, ports.payment_ms),
            env,
            f"{payment_url}/health",
            log_dir / "payment-ms.log",
        ),
        ManagedProcess(
            "gateway",
            asgi_command("gateway", host, ports.gateway),
            env,
            f"{gateway_url}/health",
            log_dir / "gateway.log",
        ),
        ManagedProcess(
            "dispatcher",
            dispatcher_command(),
            {**env, "DISPATCHER_METRICS_PORT": str(metrics_port)},
            f"http://127.0.0.1:{metrics_port}/metrics",  # answers once it listens for events
            log_dir / "dispatcher.log",
        ),
    ]


def run_dev(ports: DevPorts, host: str = "127.0.0.1") -> int:
    from paygate.migrations import upgrade
    from paygate.seed import DEMO_ADMIN, DEMO_USER

    stop = threading.Event()

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)

    STATE_DIR.mkdir(exist_ok=True)
    log_dir = STATE_DIR / "logs"
    log_dir.mkdir(exist_ok=True)
    settings = PaygateSettings()
    database = None
    processes: list[ManagedProcess] = []
    try:
        url = settings.database_url
        if not url:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                from shared.embedded_pg import EmbeddedPostgres

            database = EmbeddedPostgres(STATE_DIR / "postgres", ports.database)
            _log(f"starting embedded PostgreSQL on 127.0.0.1:{ports.database} (data in {database.data_dir})")
            database.start()
            url = database.url()
        _log("applying migrations")
        upgrade(url)
        _log(
            "seeded demo data" if asyncio.run(_seed(url)) else "demo data already present, not seeding again"
        )

        processes = dev_processes(url, ports, host, log_dir)
        for proc in processes:
            proc.start()
        for proc in processes:
            proc.wait_healthy()

        info = {
            "gateway_url": f"http://{host}:{ports.gateway}",
            "payment_ms_url": f"http://{host}:{ports.payment_ms}",
            "database_url": url,
            "logs": str(log_dir),
            "pids": {proc.name: proc.pid for proc in processes},
            "logins": [
                {"email": login.email, "password": login.password, "role": login.role}
                for login in (DEMO_ADMIN, DEMO_USER)
            ],
        }
        (STATE_DIR / "dev.json").write_text(json.dumps(info, indent=2) + "\n")
        _log(f"gateway     {info['gateway_url']}  (OpenAPI: {info['gateway_url']}/schema)")
        _log(f"payment_ms  {info['payment_ms_url']}")
        for login in (DEMO_ADMIN, DEMO_USER):
            _log(f"login       {login.email} / {login.password} ({login.role})")
        _log(f"logs in {log_dir}; details in {STATE_DIR / 'dev.json'}; Ctrl-C stops everything")

        while not stop.wait(0.5):
            for proc in processes:
                if proc.process is not None and proc.process.poll() is not None:
                    _log(f"{proc.name} exited with code {proc.process.returncode}; stopping")
                    return 1
        _log("stopping")
        return 0
    except Exception as exc:
        _log(f"failed: {exc}")
        return 1
    finally:
        for proc in reversed(processes):
            proc.stop()
        if database is not None:
            database.stop()
        (STATE_DIR / "dev.json").unlink(missing_ok=True)
        sys.stdout.flush()
