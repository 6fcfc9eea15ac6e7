"""``make dev``: the whole system on 127.0.0.1, on an embedded PostgreSQL unless a URL is configured.

Data lives in ``.paygate/`` and is reused; demo data is seeded once; the URLs and demo logins are
printed and written to ``.paygate/dev.json``. With ``--demo-receiver`` the demo partner endpoint runs
too, registered once the database is up, and its lines are printed with the runner's. SIGINT or
SIGTERM stops every process started here, the database included.
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
    demo_receiver: int = 8009
    gateway_internal: int = 8010  # /internal/* and /metrics of the gateway


def _cli_command() -> str:
    """How to run ``paygate`` from here without uv on PATH: the project environment's own script."""
    script = Path(sys.prefix) / "bin" / "paygate"
    try:
        return f"./{script.relative_to(Path.cwd())}"
    except ValueError:
        return str(script)


def _log(message: str) -> None:
    print(f"[paygate dev] {message}", flush=True)


async def _seed(url: str) -> bool:
    from paygate.seed import seed_demo_data

    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        return await seed_demo_data(engine)
    finally:
        await engine.dispose()


def _cors_origins(gateway_port: int) -> list[str]:
    """The operator's GATEWAY_CORS_ORIGINS (environment or .env), else localhost frontends. The port
    is the runner's own choice: a GATEWAY_PORT variable the runner overrides must not be parsed here."""
    from gateway.settings import GatewaySettings

    return GatewaySettings(port=gateway_port).cors_origins or list(DEV_CORS_ORIGINS)


def demo_receiver_process(url: str, ports: DevPorts, host: str, log_dir: Path) -> ManagedProcess:
    """``paygate demo-receiver``: it registers itself (partner ``demo-receiver``, every event type)
    in the dev database, then answers /health; its verified lines are echoed by the runner."""
    command = [sys.executable, "-m", "paygate", "demo-receiver", "--host", host]
    command += ["--port", str(ports.demo_receiver)]
    return ManagedProcess(
        "demo-receiver",
        command,
        {"PAYGATE_ENV": "dev", "PAYGATE_DATABASE_URL": url, "PYTHONUNBUFFERED": "1"},
        f"http://{host}:{ports.demo_receiver}/health",
        log_dir / "demo-receiver.log",
    )


class _LogEcho:
    """Prints the lines a process appends to its log file (the demo receiver's, in terminal 1)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = path.stat().st_size if path.exists() else 0
        self.partial = b""

    def pump(self) -> None:
        try:
            with self.path.open("rb") as log:
                log.seek(self.offset)
                chunk = log.read()
        except OSError:
            return
        self.offset += len(chunk)
        *lines, self.partial = (self.partial + chunk).split(b"\n")
        for line in lines:
            print(line.decode(errors="replace"), flush=True)


def dev_roles(url: str, settings: PaygateSettings) -> dict[str, str]:
    """The services' own roles, as production runs them: the configured URLs, else ones derived from the
    owner's (``paygate_gateway`` / ``paygate_payment_ms``). A database whose user may not create roles runs
    the services as the owner, with a warning."""
    import asyncpg

    from paygate.db_roles import DEV_ROLE_NAMES, RoleSetupError, ServiceRole, apply_roles, role_url

    urls = {
        "PAYGATE_GATEWAY_DATABASE_URL": settings.gateway_database_url
        or role_url(url, DEV_ROLE_NAMES["gateway"], f"dev-{DEV_ROLE_NAMES['gateway']}"),
        "PAYGATE_PAYMENT_MS_DATABASE_URL": settings.payment_ms_database_url
        or role_url(url, DEV_ROLE_NAMES["payment-ms"], f"dev-{DEV_ROLE_NAMES['payment-ms']}"),
    }
    services = ("gateway", "payment-ms")
    try:
        roles = [ServiceRole.from_url(s, u) for s, u in zip(services, urls.values(), strict=True)]
        asyncio.run(apply_roles(url, roles))
    except (RoleSetupError, asyncpg.InsufficientPrivilegeError) as exc:
        _log(f"warning: the services connect as the database owner ({exc})")
        return {}
    _log("services connect as their own roles (paygate_gateway, paygate_payment_ms): own tables only")
    return urls


def dev_processes(
    url: str, ports: DevPorts, host: str, log_dir: Path, roles: dict[str, str] | None = None
) -> list[ManagedProcess]:
    gateway_url = f"http://{host}:{ports.gateway}"
    internal_url = f"http://{host}:{ports.gateway_internal}"  # what the dispatcher calls
    payment_url = f"http://{host}:{ports.payment_ms}"
    env = {
        "PAYGATE_ENV": "dev",
        "PAYGATE_DATABASE_URL": url,
        **(roles or {}),
        "GATEWAY_PAYMENT_MS_URL": payment_url,
        "PAYMENT_MS_PUBLIC_BASE_URL": payment_url,
        # The dispatcher delivers payment events to the gateway too (reservations follow payments).
        "GATEWAY_INTERNAL_EVENTS_URL": f"{internal_url}/internal/payment-events",
        "DISPATCHER_GATEWAY_URL": internal_url,
        "GATEWAY_CORS_ORIGINS": json.dumps(_cors_origins(ports.gateway)),
        "GATEWAY_PUBLIC_URL": gateway_url,  # where portal links point
        # The services' own settings agree with the ports they serve on (the flags win over these).
        "GATEWAY_PORT": str(ports.gateway),
        "GATEWAY_INTERNAL_PORT": str(ports.gateway_internal),
        "PAYMENT_MS_PORT": str(ports.payment_ms),
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


def run_dev(ports: DevPorts, host: str = "127.0.0.1", *, demo_receiver: bool = False) -> int:
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

        processes = dev_processes(url, ports, host, log_dir, dev_roles(url, settings))
        echo: _LogEcho | None = None
        if demo_receiver:
            receiver = demo_receiver_process(url, ports, host, log_dir)
            echo = _LogEcho(receiver.log_path) if receiver.log_path else None
            processes.append(receiver)
        for proc in processes:
            proc.start()
        for proc in processes:
            proc.wait_healthy()

        info = {
            "gateway_url": f"http://{host}:{ports.gateway}",
            "gateway_internal_url": f"http://{host}:{ports.gateway_internal}",
            "payment_ms_url": f"http://{host}:{ports.payment_ms}",
            "console_url": f"http://{host}:{ports.gateway}/console",
            "database_url": url,
            "logs": str(log_dir),
            "demo_receiver_url": f"http://{host}:{ports.demo_receiver}/webhooks" if demo_receiver else None,
            "pids": {proc.name: proc.pid for proc in processes},
            "logins": [
                {"email": login.email, "password": login.password, "role": login.role}
                for login in (DEMO_ADMIN, DEMO_USER)
            ],
        }
        (STATE_DIR / "dev.json").write_text(json.dumps(info, indent=2) + "\n")
        _log(f"gateway     {info['gateway_url']}  (API docs: {info['gateway_url']}/schema)")
        _log(f"internal    {info['gateway_internal_url']}  (/internal/*, /metrics; never expose it)")
        _log(f"payment_ms  {info['payment_ms_url']}  (API docs: {info['payment_ms_url']}/schema)")
        _log(f"console     {info['console_url']}  (sign in as the admin below)")
        _log(f"the CLI     {_cli_command()} --help  (or `uv run paygate …` with uv on PATH)")
        for login in (DEMO_ADMIN, DEMO_USER):
            _log(f"login       {login.email} / {login.password} ({login.role})")
        if demo_receiver:
            _log(f"demo receiver {info['demo_receiver_url']} (partner demo-receiver; its lines follow)")
        _log(f"logs in {log_dir}; details in {STATE_DIR / 'dev.json'}; Ctrl-C stops everything")

        while not stop.wait(0.5):
            if echo is not None:
                echo.pump()
            for proc in processes:
                if proc.process is not None and proc.process.poll() is not None:
                    _log(f"{proc.name} exited with code {proc.process.returncode}; stopping")
                    return 1
        if echo is not None:
            echo.pump()
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
