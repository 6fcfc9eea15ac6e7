"""Logs: JSON lines outside dev, one access line per request with its request id, and never a
password, token, secret or signature, even at DEBUG level."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.auth.passwords import hash_password
from shared.models import User
from shared.observability import ReadableFormatter, redact
from shared.webhooks import generate_secret, secret_key, sign
from tests.fixtures.services import STARTUP_DEADLINE_SECONDS, TEST_SERVICE_TOKEN, run_service, service_env
from tests.fixtures.waiting import wait_until

PASSWORD = "correct horse battery staple"


def _records(path: Path) -> list[dict[str, object]]:
    lines = [line for line in path.read_text().splitlines() if line.startswith("{")]
    return [json.loads(line) for line in lines]


def _wait_for_line(path: Path, needle: str, timeout: float = 10.0) -> None:
    """Access lines are written after the response is sent: wait for them, with a deadline."""
    wait_until(lambda: needle in path.read_text(), timeout, f"{needle!r} in {path.name}")


async def test_requests_with_credentials_leave_no_credentials_in_the_logs(
    database_url: str, db_engine: AsyncEngine, tmp_path: Path
) -> None:
    async with db_engine.begin() as conn:
        await conn.execute(
            insert(User).values(email="logs@example.com", password_hash=hash_password(PASSWORD), role="user")
        )
    env = service_env(database_url, PAYGATE_LOG_LEVEL="DEBUG", PAYGATE_LOG_JSON="true")
    with (
        run_service("payment-ms", env, tmp_path) as payment_ms,
        run_service("gateway", {**env, "GATEWAY_PAYMENT_MS_URL": payment_ms.url}, tmp_path) as gateway,
    ):
        async with httpx.AsyncClient(timeout=10) as http:
            login = await http.post(
                f"{gateway.url}/auth/login",
                json={"email": "logs@example.com", "password": PASSWORD},
                headers={"X-Request-ID": "ops-log-login"},
            )
            assert login.status_code == 200, login.text
            token = login.json()["access_token"]
            me = await http.get(
                f"{gateway.url}/me",
                headers={"Authorization": f"Bearer {token}", "X-Request-ID": "ops-log-me"},
            )
            assert me.status_code == 200
            # a scan of paths that exist nowhere is logged too, with the client's address
            for service, request_id in ((gateway, "ops-log-404"), (payment_ms, "ops-log-404-ms")):
                unknown = await http.post(f"{service.url}/wp-login.php", headers={"X-Request-ID": request_id})
                assert unknown.status_code == 404 and unknown.headers["x-request-id"] == request_id

            # A signed event with a signature made with the wrong secret: refused, and logged as such.
            body = b'{"type":"payment.succeeded","timestamp":"2026-11-22T10:00:00Z","data":{}}'
            now = int(time.time())
            signature = sign(secret_key(generate_secret()), "msg_ops_log", now, body)
            refused = await http.post(
                f"{gateway.internal_url}/internal/payment-events",
                content=body,
                headers={
                    "webhook-id": "msg_ops_log",
                    "webhook-timestamp": str(now),
                    "webhook-signature": signature,
                    "X-Service-Token": TEST_SERVICE_TOKEN,
                    "X-Request-ID": "ops-log-event",
                },
            )
            assert refused.status_code == 401

            for presented in (TEST_SERVICE_TOKEN, "wrong-" + TEST_SERVICE_TOKEN):
                listed = await http.get(
                    f"{payment_ms.url}/api/payments",
                    headers={"X-Service-Token": presented, "X-Request-ID": "ops-log-payments"},
                )
                assert listed.status_code in (200, 401)

        gateway_log = tmp_path / f"gateway-{gateway.url.rsplit(':', 1)[1]}.log"
        payment_log = tmp_path / f"payment-ms-{payment_ms.url.rsplit(':', 1)[1]}.log"
        _wait_for_line(gateway_log, "ops-log-event")
        _wait_for_line(payment_log, "ops-log-payments")
        _wait_for_line(payment_log, "ops-log-404-ms")

    text = gateway_log.read_text() + payment_log.read_text()
    for credential in (PASSWORD, token, TEST_SERVICE_TOKEN, signature, signature.split(",", 1)[1]):
        assert credential not in text

    records = _records(gateway_log)
    access = {r["request_id"]: r for r in records if r["logger"] == "paygate.access"}
    assert {"ops-log-login", "ops-log-me", "ops-log-event"} <= set(access)
    assert access["ops-log-me"]["status"] == 200 and access["ops-log-me"]["path"] == "/me"
    assert access["ops-log-event"]["status"] == 401
    assert access["ops-log-404"]["status"] == 404 and access["ops-log-404"]["path"] == "/wp-login.php"
    assert access["ops-log-404"]["method"] == "POST" and access["ops-log-404"]["client"] == "127.0.0.1"
    assert access["ops-log-me"]["client"] == "127.0.0.1"
    assert all(r["service"] == "gateway" for r in records)
    payment_access = [r for r in _records(payment_log) if r["logger"] == "paygate.access"]
    assert sorted(r["status"] for r in payment_access if r["request_id"] == "ops-log-payments") == [200, 401]
    assert [r["status"] for r in payment_access if r["request_id"] == "ops-log-404-ms"] == [404]


@pytest.mark.parametrize(
    "secret",
    [
        "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=",
        "sk_live_51HxAbCdEfGhIjKlMnOp",
    ],
)
def test_credentials_in_a_message_are_masked(secret: str) -> None:
    record = logging.makeLogRecord({"msg": "calling with %s", "args": (secret,), "levelname": "INFO"})
    record.service, record.request_id = "test", "-"
    line = ReadableFormatter().format(record)
    assert secret not in line and "[redacted" in line
    assert redact("GET /health 200") == "GET /health 200"


def test_outside_dev_every_line_is_json_by_default_granians_included(
    database_url: str, tmp_path: Path
) -> None:
    """PAYGATE_ENV=prod and no PAYGATE_LOG_JSON: the app's lines and granian's own are JSON."""
    import secrets
    import signal
    import sys

    from paygate.processes import ManagedProcess
    from shared.embedded_pg import free_port
    from tests.ops.conftest import clean_env

    strong = {
        "PAYGATE_SERVICE_TOKEN": secrets.token_urlsafe(48),
        "GATEWAY_JWT_SECRET": secrets.token_urlsafe(48),
        "GATEWAY_INTERNAL_EVENTS_URL": "off",  # no dispatcher here: reservations are not followed
    }
    env = clean_env(tmp_path, PAYGATE_ENV="prod", PAYGATE_DATABASE_URL=database_url, **strong)
    assert "PAYGATE_LOG_JSON" not in env
    port = free_port()
    log = tmp_path / "gateway.log"
    server = ManagedProcess(
        "gateway",
        [sys.executable, "-m", "paygate", "serve", "gateway", "--port", str(port)],
        env,
        f"http://127.0.0.1:{port}/health",
        log,
    )
    server.start()
    try:
        server.wait_healthy(timeout=STARTUP_DEADLINE_SECONDS)
        response = httpx.get(f"http://127.0.0.1:{port}/ready", headers={"X-Request-ID": "ops-json-ready"})
        assert response.status_code == 200
        _wait_for_line(log, "ops-json-ready")
        # A worker that dies is granian's to report: kill it and read how it said so.
        workers = [
            int(stat.parent.name)
            for stat in Path("/proc").glob("[0-9]*/stat")
            if _parent_pid(stat) == server.pid
        ]
        assert workers, "granian runs its app in worker processes"
        for worker in workers:
            os.kill(worker, signal.SIGKILL)
        _wait_for_line(log, "Unexpected exit from worker")
    finally:
        server.stop()

    lines = [line for line in log.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line, or this raises
    access = [r for r in records if r["logger"] == "paygate.access" and r["request_id"] == "ops-json-ready"]
    assert access and access[0]["status"] == 200 and access[0]["service"] == "gateway"
    granian = [r for r in records if r["logger"] == "_granian"]
    assert any("Unexpected exit from worker" in str(r["msg"]) for r in granian), records
    assert all(r["service"] == "gateway" and r["level"] for r in granian)
    for secret in strong.values():
        assert secret not in log.read_text()


def _parent_pid(stat: Path) -> int:
    try:
        text = stat.read_text()
    except OSError:
        return -1
    return int(text[text.rindex(")") + 2 :].split()[1])
