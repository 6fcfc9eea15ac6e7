"""The gateway's internal routes (partner signing secrets, payment events) and its metrics are served
on the internal listener only: the public port answers 404 for them and its OpenAPI lists public
routes only."""

from __future__ import annotations

import re

import httpx

from tests.fixtures.services import TEST_SERVICE_TOKEN, RunningService
from tests.gateway.conftest import MakeAccount, login

SERVICE = {"X-Service-Token": TEST_SERVICE_TOKEN}
EVENT = b'{"type":"payment.succeeded","timestamp":"2026-11-22T10:00:00Z","data":{}}'


def _metric(text: str, name: str, **labels: str) -> float:
    """The value of ``name`` on the line carrying (at least) ``labels``; 0 when absent."""
    for line in text.splitlines():
        match = re.match(r"^([a-z_]+)\{(.*)\} (\S+)$", line)
        if not match or match.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2)))
        if all(got.get(key) == value for key, value in labels.items()):
            return float(match.group(3))
    return 0.0


async def test_the_public_port_does_not_serve_internal_routes(
    gateway: RunningService, http: httpx.AsyncClient
) -> None:
    partners = await http.get(
        f"{gateway.url}/internal/partners?event_type=payment.succeeded", headers=SERVICE
    )
    events = await http.post(f"{gateway.url}/internal/payment-events", content=EVENT, headers=SERVICE)
    metrics = await http.get(f"{gateway.url}/metrics")
    for refused in (partners, events, metrics):
        assert refused.status_code == 404, (refused.request.url, refused.text)
        assert refused.headers["content-type"] == "application/problem+json"
    schema = (await http.get(f"{gateway.url}/schema/openapi.json")).json()
    assert schema["paths"] and not [path for path in schema["paths"] if path.startswith("/internal")]


async def test_the_internal_port_serves_them(gateway: RunningService, http: httpx.AsyncClient) -> None:
    assert gateway.internal_url and gateway.internal_url != gateway.url
    partners = await http.get(
        f"{gateway.internal_url}/internal/partners?event_type=payment.succeeded", headers=SERVICE
    )
    assert partners.status_code == 200 and "items" in partners.json()
    unsigned = await http.post(f"{gateway.internal_url}/internal/payment-events", content=EVENT)
    assert unsigned.status_code == 401  # served, and refused for its missing signature
    schema = (await http.get(f"{gateway.internal_url}/schema/openapi.json")).json()
    assert {"/internal/partners", "/internal/payment-events"} <= set(schema["paths"])
    assert set(schema["components"]["securitySchemes"]) == {"ServiceToken", "WebhookSignature"}
    assert not [path for path in schema["paths"] if path.startswith(("/admin", "/payment-gateway/"))]


async def test_metrics_count_requests_upstream_calls_and_logins(
    gateway: RunningService, http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    before = (await http.get(f"{gateway.internal_url}/metrics")).text
    account = await make_account("admin")  # one successful login
    assert (await login(http, gateway.url, account.email, "wrong-password")).status_code == 401
    assert (await http.get(f"{gateway.url}/admin/payments", headers=account.headers)).status_code == 200
    response = await http.get(f"{gateway.internal_url}/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    after = response.text

    def grew(name: str, **labels: str) -> float:
        return _metric(after, name, **labels) - _metric(before, name, **labels)

    listed = {"method": "GET", "path": "/admin/payments", "status_code": "200"}
    assert grew("gateway_requests_total", **listed) == 1
    assert _metric(after, "gateway_request_duration_seconds_count", **listed) >= 1
    upstream = {"method": "GET", "route": "/api/payments", "outcome": "200"}
    assert grew("gateway_payment_ms_calls_total", **upstream) == 1
    assert _metric(
        after, "gateway_payment_ms_call_duration_seconds_count", method="GET", route="/api/payments"
    )
    assert grew("gateway_logins_total", outcome="succeeded") == 1
    assert grew("gateway_logins_total", outcome="refused") == 1
