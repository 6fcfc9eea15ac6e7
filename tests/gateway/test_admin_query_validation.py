"""Admin filters are validated by the gateway itself (typed query parameters), and the problems that
payment_ms answers are passed on without its internal routes: an admin never sees `/api/...`."""

from __future__ import annotations

import uuid

import httpx

from tests.fixtures.services import TEST_SERVICE_TOKEN, RunningService
from tests.gateway.conftest import MakeAccount

PROBLEM = "application/problem+json"


async def test_bad_admin_filters_are_refused_at_the_gateway(
    gateway: RunningService, http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    admin = await make_account("admin")
    refused = {
        "/admin/payments": [
            {"limit": "abc"},
            {"limit": "0"},
            {"limit": "201"},
            {"status": "paid-ish"},
            {"provider": "paypal"},
            {"user_id": "not-a-uuid"},
            {"created_from": "yesterday"},
            {"cursor": "c" * 201},
        ],
        "/admin/payments/stats/daily": [{"to": "2024-13-40"}, {"days": "367"}],
        "/admin/events": [{"type": "payment.exploded"}, {"payment_id": "1"}],
        "/admin/deliveries": [{"status": "lost"}, {"partner_id": "x"}],
    }
    for path, cases in refused.items():
        for params in cases:
            response = await http.get(f"{gateway.url}{path}", params=params, headers=admin.headers)
            assert response.status_code == 400, (path, params, response.text)
            assert response.headers["content-type"] == PROBLEM
            assert response.json()["instance"] == path
            assert "/api/" not in response.text, response.text
    good = await http.get(
        f"{gateway.url}/admin/payments",
        params={"limit": "5", "status": "succeeded", "created_from": "2024-01-01T00:00:00+00:00"},
        headers=admin.headers,
    )
    assert good.status_code == 200 and good.json() == {"items": [], "next_cursor": None}


async def test_payment_ms_problems_name_the_gateways_routes(
    gateway: RunningService, http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    admin = await make_account("admin")
    delivery = f"/admin/deliveries/{uuid.uuid4()}"
    cases = [
        ("GET", delivery, None, 404),
        ("POST", f"{delivery}/replay", None, 404),
        ("GET", "/admin/payments", {"cursor": "not-a-cursor"}, 400),
    ]
    for method, path, params, status in cases:
        response = await http.request(method, f"{gateway.url}{path}", params=params, headers=admin.headers)
        assert response.status_code == status, (path, response.text)
        assert response.headers["content-type"] == PROBLEM
        assert "/api/" not in response.text, response.text
        if "instance" in response.json():
            assert response.json()["instance"] == path
    bad_since = await http.post(
        f"{gateway.url}/admin/partners/{uuid.uuid4()}/deliveries/replay",
        json={"since": "last tuesday"},
        headers=admin.headers,
    )
    assert bad_since.status_code == 400 and "/api/" not in bad_since.text


async def test_date_times_are_rfc3339_strings_never_bare_numbers(
    gateway: RunningService, payment_ms: RunningService, http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    """Litestar would read ``12345`` as a Unix timestamp; the documents say ``format: date-time``."""
    admin = await make_account("admin")
    service = {"X-Service-Token": TEST_SERVICE_TOKEN}
    partner = str(uuid.uuid4())
    cases = [
        (gateway, "GET", "/admin/payments", {"created_from": "12345"}, None, admin.headers),
        (gateway, "GET", "/admin/events", {"created_to": "1700000000.5"}, None, admin.headers),
        (gateway, "GET", "/admin/deliveries", {"created_from": "-1"}, None, admin.headers),
        (
            gateway,
            "POST",
            f"/admin/partners/{partner}/deliveries/replay",
            None,
            {"since": 12345},
            admin.headers,
        ),
        (
            gateway,
            "POST",
            f"/admin/partners/{partner}/deliveries/replay",
            None,
            {"since": "2024-01-01T00:00:00Z", "until": 0},
            admin.headers,
        ),
        (payment_ms, "GET", "/api/payments", {"created_to": "12345"}, None, service),
        (
            payment_ms,
            "GET",
            "/api/events/feed",
            {"type": "payment.succeeded", "created_from": "0"},
            None,
            service,
        ),
        (payment_ms, "GET", "/api/deliveries/health", {"since": "1700000000"}, None, service),
        (
            payment_ms,
            "POST",
            "/api/deliveries/replay",
            None,
            {"partner_id": partner, "since": 12345},
            service,
        ),
    ]
    for target, method, path, params, body, headers in cases:
        response = await http.request(
            method, f"{target.url}{path}", params=params, json=body, headers=headers
        )
        assert response.status_code == 400, (path, params, body, response.text)
        assert response.headers["content-type"] == PROBLEM
    document = (await http.get(f"{gateway.url}/schema/openapi.json")).json()
    since = next(
        p for p in document["paths"]["/admin/payments"]["get"]["parameters"] if p["name"] == "created_from"
    )
    assert since["schema"]["type"] == "string" and since["schema"]["format"] == "date-time"  # never null
    window = await http.get(
        f"{payment_ms.url}/api/deliveries/health", params={"since": "2024-01-01T00:00:00Z"}, headers=service
    )
    assert window.status_code == 200 and window.json()["since"].startswith("2024-01-01T00:00:00")
