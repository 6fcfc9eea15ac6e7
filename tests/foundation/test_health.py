"""Each service answers /health (alive) and /ready (database reachable) over real HTTP."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from shared.embedded_pg import free_port
from tests.fixtures.services import RunningService, run_service, service_env


@pytest.mark.parametrize("service", ["gateway", "payment_ms"])
async def test_health_and_ready(
    service: str, request: pytest.FixtureRequest, http: httpx.AsyncClient
) -> None:
    running: RunningService = request.getfixturevalue(service)
    health = await http.get(f"{running.url}/health")
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
    ready = await http.get(f"{running.url}/ready")
    assert ready.status_code == 200
    assert ready.json()["database"] == "ok"


async def test_ready_is_503_problem_when_the_database_is_unreachable(
    log_dir: Path, http: httpx.AsyncClient
) -> None:
    nowhere = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/paygate"
    with run_service("payment-ms", service_env(nowhere), log_dir) as service:
        assert (await http.get(f"{service.url}/health")).status_code == 200
        ready = await http.get(f"{service.url}/ready")
    assert ready.status_code == 503
    assert ready.headers["content-type"].startswith("application/problem+json")
    assert ready.json()["database"] == "unreachable"


async def test_unknown_route_is_a_problem_document(gateway: RunningService, http: httpx.AsyncClient) -> None:
    response = await http.get(f"{gateway.url}/no-such-route")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 404
