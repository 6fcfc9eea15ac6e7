"""``GET /metrics``: Prometheus text with requests, latency, payments by status, provider calls."""

from __future__ import annotations

import re

import httpx

from tests.payment_ms.conftest import create_payment, post_payment


def _value(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        match = re.match(r"^([a-z_]+)\{(.*)\} (\S+)$", line)
        if match and match.group(1) == name:
            got = ",".join(sorted(match.group(2).split(",")))
            if got == wanted:
                return float(match.group(3))
    return 0.0


async def test_metrics(api: httpx.AsyncClient) -> None:
    before = (await api.get("/metrics", headers={"X-Service-Token": ""})).text
    await create_payment(api)
    await create_payment(api)
    await post_payment(api, "err", metadata={"mock_behavior": "provider_error"})
    response = await api.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = response.text
    assert _value(after, "payment_ms_payments", status="pending") == 2
    assert _value(after, "payment_ms_payments", status="succeeded") == 0
    # Litestar's Prometheus plugin: by method, route template and status
    created = {"method": "POST", "path": "/api/payments", "app_name": "payment_ms"}
    assert (
        _value(after, "payment_ms_requests_total", status_code="201", **created)
        - _value(before, "payment_ms_requests_total", status_code="201", **created)
        == 2
    )
    assert _value(after, "payment_ms_request_duration_seconds_count", status_code="201", **created) >= 2
    assert (
        _value(after, "payment_ms_provider_call_duration_seconds_count", provider="mock", operation="create")
        >= 3
    )
    errors = {"provider": "mock", "operation": "create", "kind": "unavailable"}
    assert (
        _value(after, "payment_ms_provider_errors_total", **errors)
        - _value(before, "payment_ms_provider_errors_total", **errors)
        == 1
    )
    assert _value(after, "payment_ms_payment_events_total", type="payment.created") >= 2
