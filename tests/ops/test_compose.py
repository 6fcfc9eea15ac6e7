"""compose.yaml, the Dockerfile and .env.example stay honest with each other and with the code.

No Docker engine runs here, so the compose file is parsed and checked for what an operator relies on:
the services, the start order, healthchecks, what is published, and that every variable compose uses
and every setting the code reads is documented in .env.example with its real default.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from paygate.config_reference import (
    COMPOSE_VARIABLES,
    SETTINGS_MODULES,
    all_settings,
    parse_env_file,
    render_env_example,
)
from paygate.processes import PROJECT_ROOT

COMPOSE_TEXT = (PROJECT_ROOT / "compose.yaml").read_text()
COMPOSE: dict[str, Any] = yaml.safe_load(COMPOSE_TEXT)
SERVICES: dict[str, Any] = COMPOSE["services"]
ENV_EXAMPLE = parse_env_file((PROJECT_ROOT / ".env.example").read_text())
REGENERATE = "run `uv run paygate config env-example > .env.example`"
APP_SERVICES = ("migrate", "payment-ms", "dispatcher", "gateway")


def _depends(service: str) -> dict[str, str]:
    depends = SERVICES[service].get("depends_on", {})
    assert isinstance(depends, dict), f"{service}: depends_on must use the long form with conditions"
    return {name: spec["condition"] for name, spec in depends.items()}


def _environment(service: str) -> dict[str, str]:
    env = SERVICES[service].get("environment", {})
    assert isinstance(env, dict), f"{service}: environment as a mapping"
    return env


def test_the_services_are_there() -> None:
    assert set(SERVICES) >= {"postgres", *APP_SERVICES}


def test_postgres_keeps_its_data_in_a_volume_and_has_a_healthcheck() -> None:
    postgres = SERVICES["postgres"]
    volume = postgres["volumes"][0].split(":")[0]
    assert volume in COMPOSE["volumes"], "a named volume, not a bind mount or nothing"
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])


def test_migrate_runs_once_after_postgres_is_healthy() -> None:
    migrate = SERVICES["migrate"]
    assert migrate["command"] == ["migrate", "upgrade", "head"]
    assert migrate["restart"] == "no", "a one-shot job must not be restarted after it succeeds"
    assert _depends("migrate") == {"postgres": "service_healthy"}


@pytest.mark.parametrize("service", ["payment-ms", "dispatcher", "gateway"])
def test_services_wait_for_the_migration_and_have_healthchecks(service: str) -> None:
    assert _depends(service)["migrate"] == "service_completed_successfully"
    test = SERVICES[service]["healthcheck"]["test"]
    assert test[0] == "CMD" and test[1:3] == ["paygate", "healthcheck"]


def test_the_start_order_follows_who_calls_whom() -> None:
    assert _depends("gateway")["payment-ms"] == "service_healthy"
    assert _depends("dispatcher")["gateway"] == "service_healthy"


def test_healthchecks_probe_the_port_the_service_listens_on() -> None:
    for service, port in (("gateway", "8000"), ("payment-ms", "8001")):
        command = SERVICES[service]["command"]
        assert command[:2] == ["serve", service]
        assert command[command.index("--port") + 1] == port
        assert command[command.index("--host") + 1] == "0.0.0.0"
        assert SERVICES[service]["healthcheck"]["test"][-1] == f"http://127.0.0.1:{port}/ready"


def test_only_the_gateway_is_published_by_default() -> None:
    published = {name for name, spec in SERVICES.items() if spec.get("ports") and not spec.get("profiles")}
    assert published == {"gateway"}
    assert SERVICES["gateway"]["ports"] == ["${PAYGATE_PUBLISHED_PORT:-8000}:8000"]


def test_the_mock_checkout_page_is_published_only_in_its_profile_and_only_its_path() -> None:
    page = SERVICES["checkout-page"]
    assert page["profiles"] == ["mock-checkout"]
    nginx = COMPOSE["configs"][page["configs"][0]["source"]]["content"]
    assert re.findall(r"proxy_pass\s+(\S+);", nginx) == ["http://payment-ms:8001"]
    assert "location /checkout/mock/ {" in nginx
    assert "location / { return 404; }" in nginx, "nothing else of payment_ms is reachable"


def test_payment_ms_refuses_the_mock_provider_unless_the_demo_opts_in() -> None:
    env = _environment("payment-ms")
    assert env["PAYMENT_MS_ALLOW_MOCK_PROVIDER"] == "${PAYMENT_MS_ALLOW_MOCK_PROVIDER:-false}"
    assert "PAYMENT_MS_ALLOW_MOCK_PROVIDER=true docker compose --profile mock-checkout" in COMPOSE_TEXT


def test_the_dispatcher_can_be_scaled() -> None:
    dispatcher = SERVICES["dispatcher"]
    assert "container_name" not in dispatcher and "ports" not in dispatcher
    assert dispatcher["command"] == ["dispatcher"]
    assert not any("container_name" in spec for spec in SERVICES.values())


def test_the_app_services_share_one_image_and_read_dotenv() -> None:
    for service in APP_SERVICES:
        spec = SERVICES[service]
        assert spec["image"] == "${PAYGATE_IMAGE:-paygate:latest}" and spec["build"] == "."
        assert spec["env_file"] == [{"path": ".env", "required": False}]
        env = _environment(service)
        assert "postgres:5432/paygate" in env["PAYGATE_DATABASE_URL"]
        assert env["GATEWAY_PAYMENT_MS_URL"] == "http://payment-ms:8001"
        assert env["GATEWAY_INTERNAL_EVENTS_URL"] == "http://gateway:8010/internal/payment-events"
        assert env["DISPATCHER_GATEWAY_URL"] == "http://gateway:8010"  # the internal listener
        assert env["PAYGATE_ENV"] == "${PAYGATE_ENV:-prod}", "containers run outside dev mode"


def test_every_variable_compose_uses_is_documented_in_env_example() -> None:
    used = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", COMPOSE_TEXT))
    assert used, "the pattern must find something"
    assert used - set(ENV_EXAMPLE) == set()


def test_every_variable_compose_sets_is_a_real_setting() -> None:
    """A typo in an `environment:` key would be silently ignored by pydantic-settings."""
    known = {doc.env_name for _, _, docs in all_settings() for doc in docs}
    for service in APP_SERVICES:
        assert set(_environment(service)) - known == set(), service


def test_every_settings_module_exists() -> None:
    found = {module for module, _, _ in all_settings(missing_ok=True)}
    assert found == {module for module, _ in SETTINGS_MODULES}


def test_every_setting_is_documented_with_its_default() -> None:
    documented = 0
    for _, _, docs in all_settings(missing_ok=False):
        for doc in docs:
            assert doc.env_name in ENV_EXAMPLE, (
                f"{doc.env_name} ({doc.owner}) is missing from .env.example: {REGENERATE}"
            )
            assert ENV_EXAMPLE[doc.env_name] == doc.default, (
                f"{doc.env_name}: .env.example says {ENV_EXAMPLE[doc.env_name]!r}, the code {doc.default!r}: "
                + REGENERATE
            )
            documented += 1
    assert documented > 30
    for name, default, _ in COMPOSE_VARIABLES:
        assert ENV_EXAMPLE[name] == default


def test_env_example_is_the_generated_reference() -> None:
    """Descriptions too: regenerate with `uv run paygate config env-example > .env.example`."""
    assert (PROJECT_ROOT / ".env.example").read_text() == render_env_example(), REGENERATE


def test_the_dockerfile_builds_with_uv_and_runs_unprivileged() -> None:
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", dockerfile, re.MULTILINE)
    assert [name for _, name in stages][-2:] == ["builder", "runtime"]
    assert "uv sync --frozen --no-dev" in dockerfile
    runtime = dockerfile.split("AS runtime", 1)[1]
    assert "uv " not in runtime.replace("/app/.venv", ""), "uv stays in the builder"
    users = re.findall(r"^USER\s+(\S+)", runtime, re.MULTILINE)
    assert users and not users[-1].startswith(("root", "0"))
    assert re.search(r'^ENTRYPOINT \["paygate"\]', runtime, re.MULTILINE)


def test_the_image_contains_what_the_commands_need() -> None:
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    copied = {
        source
        for line in re.findall(r"^COPY (?!--from)(.+)$", dockerfile, re.MULTILINE)
        for source in line.split()[:-1]
    }
    ignore = [
        line.strip()
        for line in (PROJECT_ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert ignore[0] == "*", "the build context is an allow-list (no .env, no .paygate data)"
    for path in ("alembic.ini", "alembic", "shared", "gateway", "payment_ms", "paygate", "uv.lock"):
        assert path in copied, f"{path} is not copied into the image"
        assert f"!{path}" in ignore or f"!{path}/" in ignore, f"{path} is excluded from the build context"


def test_gitignore_keeps_dotenv_out_of_git() -> None:
    assert ".env" in (PROJECT_ROOT / ".gitignore").read_text().split()
