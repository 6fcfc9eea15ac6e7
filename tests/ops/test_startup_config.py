"""Outside dev mode, missing or weak secrets stop every process at start-up, naming the setting and
never printing its value; a sound production configuration starts."""

from __future__ import annotations

import secrets
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import msgspec
import pytest

from paygate.config_check import config_problems, weak_secret_reason
from paygate.processes import ManagedProcess, asgi_command
from shared.embedded_pg import free_port
from shared.settings import PaygateSettings
from tests.fixtures.services import STARTUP_DEADLINE_SECONDS
from tests.fixtures.waiting import wait_until
from tests.ops.conftest import Paygate, assert_clean_failure, clean_env

WEAK_TOKEN = "hunter2-token"
STRONG = {
    "PAYGATE_SERVICE_TOKEN": secrets.token_urlsafe(48),
    "GATEWAY_JWT_SECRET": secrets.token_urlsafe(48),
}


def _wait_exit(proc: subprocess.Popen[bytes], timeout: float = 30.0) -> int:
    wait_until(lambda: proc.poll() is not None, timeout, "the process to stop on its own")
    return proc.returncode


def _refused_start(service: str, env: dict[str, str], log: Path) -> str:
    """Start ``service``'s app as the tests do (granian on the factory): it must exit by itself, not
    serve; its output."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            asgi_command(service, "127.0.0.1", free_port()), env=env, cwd=log.parent, stdout=out, stderr=out
        )
        try:
            assert _wait_exit(proc) != 0
        finally:
            proc.kill()
            proc.wait()
    return log.read_text()


@pytest.mark.parametrize(
    "reason,value",
    [
        ("is not set", ""),
        ("development default", "dev-default-value-that-is-long-enough-0123"),
        ("placeholder", "please-change-me-before-going-to-production-now"),
        ("shorter than 32", "Zx8#k2LmQ9"),
        ("not random", "ab" * 20),
    ],
)
def test_weak_secrets_are_recognised(reason: str, value: str) -> None:
    found = weak_secret_reason(value, default="dev-default-value-that-is-long-enough-0123")
    assert found is not None and reason in found


def test_a_random_secret_is_accepted() -> None:
    assert weak_secret_reason(secrets.token_urlsafe(32)) is None


def test_stripe_keys_are_required_only_when_stripe_is_on() -> None:
    settings = PaygateSettings(
        env="prod", database_url="postgresql://db/x", service_token=STRONG["PAYGATE_SERVICE_TOKEN"]
    )
    assert config_problems("payment-ms", settings, default_provider="cash") == []
    problems = config_problems("payment-ms", settings, default_provider="stripe")
    assert any(p.startswith("PAYMENT_MS_STRIPE_SECRET_KEY is not set") for p in problems)
    assert any(p.startswith("PAYMENT_MS_STRIPE_WEBHOOK_SECRETS is not set") for p in problems)
    problems = config_problems(
        "payment-ms",
        settings,
        default_provider="cash",
        stripe_secret_key="pk_live_oops",
        stripe_webhook_secrets=["nope"],
    )
    assert "PAYMENT_MS_STRIPE_SECRET_KEY is not a Stripe secret key (sk_… or rk_…)" in problems
    assert any(p.startswith("PAYMENT_MS_STRIPE_WEBHOOK_SECRETS holds") for p in problems)
    assert not any("pk_live_oops" in p or "nope" in p for p in problems)


@pytest.mark.parametrize(
    "value,problem",
    [
        ("", "GATEWAY_INTERNAL_EVENTS_URL is not set: reservations would not follow payment events"),
        ("gateway:8000/internal/payment-events", "GATEWAY_INTERNAL_EVENTS_URL: Value error, must be"),
        ("http://gateway:8000/internal/payment-events", None),
        ("off", None),
    ],
)
def test_the_gateway_needs_its_payment_events_url_outside_dev(
    monkeypatch: pytest.MonkeyPatch, value: str, problem: str | None
) -> None:
    """Without it the dispatcher never tells the gateway about payments: a payer who pays and never
    comes back would leave the reservation unpaid. Only an explicit `off` opts out."""
    from gateway.settings import get_gateway_settings

    settings = PaygateSettings(
        env="prod", database_url="postgresql://db/x", service_token=STRONG["PAYGATE_SERVICE_TOKEN"]
    )
    monkeypatch.setenv("GATEWAY_JWT_SECRET", STRONG["GATEWAY_JWT_SECRET"])
    monkeypatch.setenv("GATEWAY_INTERNAL_EVENTS_URL", value)
    get_gateway_settings.cache_clear()
    try:
        problems = config_problems("gateway", settings)
    finally:
        get_gateway_settings.cache_clear()
    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1 and problems[0].startswith(problem), problems


def test_paygate_serve_refuses_weak_secrets_outside_dev(paygate: Paygate) -> None:
    result = paygate(
        "serve", "gateway", "--port", str(free_port()), PAYGATE_ENV="prod", PAYGATE_SERVICE_TOKEN=WEAK_TOKEN
    )
    assert_clean_failure(
        result, 2, "PAYGATE_SERVICE_TOKEN is shorter than 32", "GATEWAY_JWT_SECRET still has"
    )
    assert WEAK_TOKEN not in result.output
    dispatcher = paygate("dispatcher", PAYGATE_ENV="prod", PAYGATE_SERVICE_TOKEN="")
    assert_clean_failure(dispatcher, 2, "PAYGATE_SERVICE_TOKEN is not set")


def test_the_app_factory_itself_refuses_outside_dev(database_url: str, tmp_path: Path) -> None:
    """However the app is started (granian directly, as the tests do), create_app() checks."""
    env = clean_env(
        tmp_path,
        PAYGATE_ENV="prod",
        PAYGATE_DATABASE_URL=database_url,
        PAYGATE_SERVICE_TOKEN=STRONG["PAYGATE_SERVICE_TOKEN"],
        PAYMENT_MS_DEFAULT_PROVIDER="stripe",
        PAYMENT_MS_STRIPE_SECRET_KEY="sk_live_hunter2hunter2",
    )
    text = _refused_start("payment-ms", env, tmp_path / "payment-ms.log")
    assert "payment-ms refuses to start" in text and "PAYMENT_MS_STRIPE_WEBHOOK_SECRETS is not set" in text
    assert "hunter2" not in text


def test_a_sound_production_configuration_starts(database_url: str, tmp_path: Path) -> None:
    port = free_port()
    env = clean_env(
        tmp_path,
        PAYGATE_ENV="prod",
        PAYGATE_DATABASE_URL=database_url,
        GATEWAY_INTERNAL_EVENTS_URL=f"http://127.0.0.1:{port}/internal/payment-events",
        **STRONG,
    )
    proc = ManagedProcess(
        "gateway",
        [sys.executable, "-m", "paygate", "serve", "gateway", "--port", str(port)],
        env,
        f"http://127.0.0.1:{port}/ready",
        tmp_path / "gateway.log",
    )
    proc.start()
    try:
        proc.wait_healthy(timeout=STARTUP_DEADLINE_SECONDS)
        response = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5)
        assert response.status_code == 200
    finally:
        proc.stop()
    text = (tmp_path / "gateway.log").read_text()
    assert "refuses" not in text
    assert STRONG["PAYGATE_SERVICE_TOKEN"] not in text and STRONG["GATEWAY_JWT_SECRET"] not in text


def test_production_refuses_the_mock_provider_unless_opted_in(
    database_url: str, tmp_path: Path, paygate: Paygate
) -> None:
    """The default provider is the mock, whose checkout page approves a payment for free: outside dev
    payment_ms refuses to start with it, and `paygate config check` says why, until the operator opts in."""
    base = {
        "PAYGATE_ENV": "prod",
        "PAYGATE_DATABASE_URL": database_url,
        "PAYGATE_SERVICE_TOKEN": STRONG["PAYGATE_SERVICE_TOKEN"],
    }
    check = paygate("config", "check", "payment-ms", **base)
    assert check.code == 2 and "PAYMENT_MS_DEFAULT_PROVIDER is mock" in check.out, check.output
    opted_in = paygate("config", "check", "payment-ms", PAYMENT_MS_ALLOW_MOCK_PROVIDER="true", **base)
    assert opted_in.code == 0 and "payment-ms: ok" in opted_in.out, opted_in.output

    text = _refused_start("payment-ms", clean_env(tmp_path, **base), tmp_path / "refused.log")
    assert "payment-ms refuses to start" in text and "PAYMENT_MS_DEFAULT_PROVIDER is mock" in text

    port = free_port()
    server = ManagedProcess(
        "payment-ms",
        asgi_command("payment-ms", "127.0.0.1", port),
        clean_env(tmp_path, PAYMENT_MS_ALLOW_MOCK_PROVIDER="true", **base),
        f"http://127.0.0.1:{port}/ready",
        tmp_path / "opted-in.log",
    )
    server.start()
    try:
        server.wait_healthy(timeout=STARTUP_DEADLINE_SECONDS)
        created = httpx.post(
            f"http://127.0.0.1:{port}/api/payments",
            json={
                "reservation_id": str(uuid.uuid4()),
                "user_id": str(uuid.uuid4()),
                "amount": 100,
                "currency": "EUR",
            },
            headers={"X-Service-Token": STRONG["PAYGATE_SERVICE_TOKEN"], "Idempotency-Key": uuid.uuid4().hex},
            timeout=10,
        )
        assert created.status_code == 201 and created.json()["provider"] == "mock", created.text
    finally:
        server.stop()


def test_outside_dev_a_payment_cannot_ask_for_the_mock_without_the_opt_in() -> None:
    from payment_ms.payments.creation import _validate_new
    from payment_ms.settings import PaymentSettings
    from shared.contracts import PaymentCreate
    from shared.problems import InvalidInputError

    create = PaymentCreate(
        reservation_id=uuid.uuid4(), user_id=uuid.uuid4(), amount=100, currency="EUR", provider="mock"
    )
    prod = PaygateSettings(
        env="prod", database_url="postgresql://db/x", service_token=STRONG["PAYGATE_SERVICE_TOKEN"]
    )
    settings = PaymentSettings(paygate=prod, default_provider="cash")
    with pytest.raises(InvalidInputError, match="PAYMENT_MS_ALLOW_MOCK_PROVIDER"):
        _validate_new(create, settings)
    assert _validate_new(msgspec.structs.replace(create, provider=None), settings) == "cash"
    opted_in = PaymentSettings(paygate=prod, default_provider="cash", allow_mock_provider=True)
    assert _validate_new(create, opted_in) == "mock"
