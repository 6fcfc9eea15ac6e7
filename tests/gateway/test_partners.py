"""Partner registry: admin CRUD, secret rotation and the dispatcher's internal view, over real HTTP."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from gateway.partners.services import GATEWAY_SUBSCRIBER_ID, create_partner, delivery_targets
from gateway.settings import GatewaySettings
from shared.models import Partner
from shared.webhooks import derived_secret
from tests.fixtures.services import TEST_SERVICE_TOKEN, RunningService
from tests.gateway.conftest import Account, MakeAccount

PROBLEM = "application/problem+json"
SERVICE = {"X-Service-Token": TEST_SERVICE_TOKEN}


def _partner(name: str = "acme", **overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "name": name,
        "url": "https://hooks.acme.example/paygate",
        "event_types": ["payment.succeeded", "payment.failed"],
    }
    body.update(overrides)
    return body


@dataclass
class Registry:
    """The partner registry's admin API (``url``), called by an admin."""

    http: httpx.AsyncClient
    url: str
    admin: Account

    async def add(self, name: str = "acme", **overrides: object) -> httpx.Response:
        return await self.http.post(self.url, json=_partner(name, **overrides), headers=self.admin.headers)


@pytest.fixture
async def registry(gateway: RunningService, http: httpx.AsyncClient, make_account: MakeAccount) -> Registry:
    return Registry(http, f"{gateway.url}/admin/partners", await make_account("admin"))


async def _count(db_engine: AsyncEngine) -> int:
    async with AsyncSession(db_engine) as session:
        return await session.scalar(select(func.count()).select_from(Partner)) or 0


async def test_crud_and_secret_shown_once(http: httpx.AsyncClient, registry: Registry) -> None:
    admin = registry.admin
    base = registry.url
    created = await registry.add()
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["secret"].startswith("whsec_") and body["enabled"] is True
    partner_id = body["id"]

    fetched = await http.get(f"{base}/{partner_id}", headers=admin.headers)
    assert fetched.status_code == 200 and "secret" not in fetched.json()
    listed = await http.get(base, headers=admin.headers)
    assert len(listed.json()["items"]) == 1 and listed.json()["next_cursor"] is None
    assert "secret" not in listed.json()["items"][0]

    assert body["secret"] not in listed.text + fetched.text

    patched = await http.patch(
        f"{base}/{partner_id}",
        json={"event_types": ["payment.refunded"], "enabled": False},
        headers=admin.headers,
    )
    assert patched.status_code == 200
    assert patched.json()["event_types"] == ["payment.refunded"] and patched.json()["enabled"] is False

    assert (await registry.add()).status_code == 409
    assert (await http.delete(f"{base}/{partner_id}", headers=admin.headers)).status_code == 204
    assert (await http.get(f"{base}/{partner_id}", headers=admin.headers)).status_code == 404


async def test_bad_partners_are_refused_and_nothing_is_written(
    gateway: RunningService, http: httpx.AsyncClient, registry: Registry, db_engine: AsyncEngine
) -> None:
    admin = registry.admin
    cases = {
        "plain http to a public host": _partner(url="http://hooks.acme.example/x"),
        "private address": _partner(url="https://10.0.0.5/x"),
        "link-local metadata": _partner(url="https://169.254.169.254/latest"),
        "credentials in url": _partner(url="https://user:pw@hooks.acme.example/x"),
        "not a url": _partner(url="hooks"),
        "ftp": _partner(url="ftp://hooks.acme.example/x"),
        "unknown event type": _partner(event_types=["payment.exploded"]),
        "no event types": _partner(event_types=[]),
        "empty name": _partner(name=""),
        "unknown field": _partner(secret="whsec_mine"),
    }
    for reason, body in cases.items():
        response = await http.post(f"{gateway.url}/admin/partners", json=body, headers=admin.headers)
        assert response.status_code in (400, 422), (reason, response.status_code, response.text)
        assert response.headers["content-type"] == PROBLEM, reason
    assert await _count(db_engine) == 0
    # loopback is fine in test mode (the dispatcher's tests use a local receiver)
    local = _partner(url="http://127.0.0.1:9/hook")
    assert (
        await http.post(f"{gateway.url}/admin/partners", json=local, headers=admin.headers)
    ).status_code == 201


# Numeric hosts a browser-style URL parser reads as loopback, percent-encoded hosts, multicast and the
# IPv4-translated range (::ffff:0:a.b.c.d, which Python calls global): refused even in test mode, where
# loopback itself is allowed.
SSRF_FORMS = [
    "https://127.1/hook",
    "https://0177.0.0.1/hook",
    "https://0x7f.0.0.1/hook",
    "https://%31%32%37.0.0.1/hook",
    "https://127.0.0.1./hook",
    "https://2130706433/hook",
    "https://224.0.0.1/hook",
    "https://239.255.255.250/hook",
    "https://[ff02::1]/hook",
    "https://[ff0e::1]/hook",
    "https://[::ffff:0:7f00:1]/hook",
    "https://[::ffff:0:808:808]/hook",
]


async def test_ssrf_forms_are_refused_at_registration(
    http: httpx.AsyncClient, registry: Registry, db_engine: AsyncEngine
) -> None:
    admin = registry.admin
    base = registry.url
    for url in SSRF_FORMS:
        response = await registry.add(url=url)
        assert response.status_code == 422, (url, response.status_code, response.text)
        assert response.headers["content-type"] == PROBLEM, url
    assert await _count(db_engine) == 0
    created = await registry.add()
    partner_id = created.json()["id"]
    for url in SSRF_FORMS:
        patched = await http.patch(f"{base}/{partner_id}", json={"url": url}, headers=admin.headers)
        assert patched.status_code == 422, (url, patched.status_code, patched.text)


async def test_partner_hosts_are_stored_canonical(registry: Registry) -> None:
    cases = {
        "https://Hooks.ACME.example.:8443/paygate?x=1": "https://hooks.acme.example:8443/paygate?x=1",
        "https://bücher.example/hook": "https://xn--bcher-kva.example/hook",
        "https://[2606:2800:021F:cb07:6820:80da:af6b:8b2c]/hook": "https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/hook",
    }
    for i, (given, stored) in enumerate(cases.items()):
        created = await registry.add(f"p{i}", url=given)
        assert created.status_code == 201, (given, created.text)
        assert created.json()["url"] == stored


async def test_admin_routes_need_an_admin(
    gateway: RunningService, http: httpx.AsyncClient, make_account: MakeAccount, db_engine: AsyncEngine
) -> None:
    user = await make_account("user")
    url = f"{gateway.url}/admin/partners"
    assert (await http.post(url, json=_partner(), headers=user.headers)).status_code == 403
    assert (await http.get(url, headers=user.headers)).status_code == 403
    assert (await http.get(url)).status_code == 401
    assert (await http.post(url, json=_partner(), headers=SERVICE)).status_code == 401
    assert await _count(db_engine) == 0


async def test_rotation_keeps_the_previous_secret_for_24_hours(
    gateway: RunningService, http: httpx.AsyncClient, registry: Registry
) -> None:
    admin = registry.admin
    first = (await registry.add()).json()
    rotated = await http.post(
        f"{gateway.url}/admin/partners/{first['id']}/rotate-secret", headers=admin.headers
    )
    assert rotated.status_code == 200
    second = rotated.json()
    assert second["secret"].startswith("whsec_") and second["secret"] != first["secret"]
    expires = datetime.fromisoformat(second["previous_secret_expires_at"])
    assert timedelta(hours=23, minutes=59) < expires - datetime.now(UTC) <= timedelta(hours=24)

    targets = await http.get(
        f"{gateway.internal_url}/internal/partners?event_type=payment.succeeded", headers=SERVICE
    )
    assert targets.status_code == 200
    assert targets.json()["items"] == [
        {
            "id": first["id"],
            "url": first["url"],
            "secrets": [second["secret"], first["secret"]],
            "payer_details": False,
            "enabled": True,
            "ordered": False,
            "max_requests_per_second": None,
        }
    ]
    missing = await http.post(
        f"{gateway.url}/admin/partners/{uuid.uuid4()}/rotate-secret", headers=admin.headers
    )
    assert missing.status_code == 404


async def test_internal_targets_filter_and_disable(
    gateway: RunningService, http: httpx.AsyncClient, registry: Registry
) -> None:
    a = (await registry.add("a")).json()
    await registry.add("b", event_types=["payment.refunded"])
    await registry.add("c", enabled=False)

    targets = await http.get(
        f"{gateway.internal_url}/internal/partners", params={"event_type": "payment.failed"}, headers=SERVICE
    )
    assert [t["id"] for t in targets.json()["items"]] == [a["id"]]
    assert targets.json()["items"][0]["secrets"] == [a["secret"]]

    bad = await http.get(
        f"{gateway.internal_url}/internal/partners", params={"event_type": "nope"}, headers=SERVICE
    )
    assert bad.status_code == 400 and bad.headers["content-type"] == PROBLEM

    disabled = await http.post(
        f"{gateway.internal_url}/internal/partners/{a['id']}/disable",
        json={"reason": "410 Gone"},
        headers=SERVICE,
    )
    assert disabled.status_code == 200
    assert disabled.json()["enabled"] is False and disabled.json()["disabled_reason"] == "410 Gone"
    after = await http.get(
        f"{gateway.internal_url}/internal/partners", params={"event_type": "payment.failed"}, headers=SERVICE
    )
    assert after.json()["items"] == []
    unknown = await http.post(
        f"{gateway.internal_url}/internal/partners/{uuid.uuid4()}/disable", json={}, headers=SERVICE
    )
    assert unknown.status_code == 404


async def test_internal_endpoints_refuse_user_tokens_and_no_token(
    gateway: RunningService, http: httpx.AsyncClient, registry: Registry
) -> None:
    admin = registry.admin
    created = (await registry.add()).json()
    list_url = f"{gateway.internal_url}/internal/partners?event_type=payment.succeeded"
    disable_url = f"{gateway.internal_url}/internal/partners/{created['id']}/disable"
    for headers in (
        {},
        admin.headers,
        {"X-Service-Token": "wrong"},
        {"Authorization": f"Bearer {TEST_SERVICE_TOKEN}"},
    ):
        listed = await http.get(list_url, headers=headers)
        assert listed.status_code == 401 and listed.headers["content-type"] == PROBLEM
        assert created["secret"] not in listed.text
        assert (await http.post(disable_url, json={"reason": "x"}, headers=headers)).status_code == 401
    still = await http.get(f"{gateway.url}/admin/partners/{created['id']}", headers=admin.headers)
    assert still.json()["enabled"] is True


async def test_gateway_is_a_builtin_subscriber_when_configured(db_engine: AsyncEngine) -> None:
    async with AsyncSession(db_engine) as session, session.begin():
        partner = await create_partner(
            session,
            name="p",
            url="https://hooks.example.com/x",
            event_types=["payment.succeeded"],
            settings=GatewaySettings(),
        )
        partner_id = partner.id
        off = await delivery_targets(
            session, "payment.succeeded", settings=GatewaySettings(), service_token="t" * 32
        )
        on = await delivery_targets(
            session,
            "payment.created",
            settings=GatewaySettings(internal_events_url="http://127.0.0.1:8000/internal/payment-events"),
            service_token="t" * 32,
        )
    assert [t.id for t in off] == [partner_id]
    assert len(on) == 1 and on[0].id == GATEWAY_SUBSCRIBER_ID
    assert on[0].secrets == [derived_secret("t" * 32, "gateway-payment-events")]


async def test_the_partner_list_pages_with_a_cursor(http: httpx.AsyncClient, registry: Registry) -> None:
    admin = registry.admin
    base = registry.url
    ids = []
    for name in ("first", "second", "third"):
        created = await registry.add(name, url=f"https://hooks.{name}.example/paygate")
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
    first = (await http.get(base, params={"limit": 2}, headers=admin.headers)).json()
    assert [p["id"] for p in first["items"]] == ids[:2] and first["next_cursor"]  # oldest first
    rest = (
        await http.get(base, params={"limit": 2, "cursor": first["next_cursor"]}, headers=admin.headers)
    ).json()
    assert [p["id"] for p in rest["items"]] == ids[2:] and rest["next_cursor"] is None
    refused = await http.get(base, params={"cursor": "not-a-cursor"}, headers=admin.headers)
    assert refused.status_code == 400


async def test_payer_details_are_an_explicit_per_partner_setting(
    gateway: RunningService, http: httpx.AsyncClient, registry: Registry
) -> None:
    admin = registry.admin
    base = registry.url
    plain = (await registry.add("plain")).json()
    crm = await registry.add("crm", payer_details=True)
    assert crm.status_code == 201, crm.text
    assert plain["payer_details"] is False and crm.json()["payer_details"] is True

    def listed(targets: httpx.Response) -> dict[str, bool]:
        return {
            t["id"]: t["payer_details"]
            for t in targets.json()["items"]
            if t["id"] != str(GATEWAY_SUBSCRIBER_ID)
        }

    internal = f"{gateway.internal_url}/internal/partners?event_type=payment.succeeded"
    assert listed(await http.get(internal, headers=SERVICE)) == {plain["id"]: False, crm.json()["id"]: True}
    patched = await http.patch(f"{base}/{plain['id']}", json={"payer_details": True}, headers=admin.headers)
    assert patched.status_code == 200 and patched.json()["payer_details"] is True
    refused = await http.patch(f"{base}/{plain['id']}", json={"payer_details": "yes"}, headers=admin.headers)
    assert refused.status_code == 400 and refused.headers["content-type"] == PROBLEM
    assert listed(await http.get(internal, headers=SERVICE)) == {plain["id"]: True, crm.json()["id"]: True}
