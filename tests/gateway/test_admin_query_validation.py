"""Admin filters are validated by the gateway itself (typed query parameters), and the problems that
payment_ms answers are passed on without its internal routes: an admin never sees `/api/...`."""

from __future__ import annotations

import uuid

import httpx

from tests.fixtures.services import RunningService
from tests.gateway.conftest import MakeAccount

PROBLEM = "application/problem+json"


async def test_bad_admin_filters_are_refused_at_the_gateway(
    gateway: RunningService, http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    admin = await make_account("admin")
    cases = [
        ("/admin/payments", {"limit": "abc"}),
        ("/admin/payments", {"limit": "0"}),
        ("/admin/payments", {"limit": "201"}),
        ("/admin/payments", {"status": "paid-ish"}),
        ("/admin/payments", {"provider": "paypal"}),
        ("/admin/payments", {"user_id": "not-a-uuid"}),
        ("/admin/payments", {"created_from": "yesterday"}),
        ("/admin/payments", {"cursor": "c" * 201}),
        ("/admin/payments/stats/daily", {"from": "2024-13-40"}),
        ("/admin/events", {"type": "payment.exploded"}),
        ("/admin/events", {"payment_id": "1"}),
        ("/admin/deliveries", {"status": "lost"}),
        ("/admin/deliveries", {"partner_id": "x"}),
    ]
    for path, params in cases:
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
