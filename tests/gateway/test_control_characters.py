"""Control characters in gateway bodies: refused by the schema (400 problem+json) before anything reaches
PostgreSQL, which would otherwise fail on NUL with a 500. Over real HTTP, real database."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from shared.models import Base, Partner, Payment, Reservation
from tests.fixtures.checkout import CANCEL_URL, RETURN_URL, reservation_state
from tests.fixtures.services import RunningService
from tests.gateway.conftest import Checkouts, MakeAccount

PROBLEM = "application/problem+json"


async def _count(db_engine: AsyncEngine, model: type[Base]) -> int:
    async with AsyncSession(db_engine) as session:
        return await session.scalar(select(func.count()).select_from(model)) or 0


async def _throttle_rows(db_engine: AsyncEngine) -> list[tuple[object, ...]]:
    async with db_engine.connect() as conn:
        result = await conn.exec_driver_sql("SELECT key, failures FROM login_throttles ORDER BY key")
        return [tuple(row) for row in result]


def _is_refused(response: httpx.Response, reason: object) -> None:
    assert response.status_code == 400, (reason, response.status_code, response.text)
    assert response.headers["content-type"] == PROBLEM, reason


async def test_login_email_with_control_characters_is_400(
    gateway: RunningService, http: httpx.AsyncClient, make_account: MakeAccount, db_engine: AsyncEngine
) -> None:
    account = await make_account()
    before = await _throttle_rows(db_engine)
    for email in (
        account.email + "\u0000",
        "\u0000" + account.email,
        account.email.replace("@", "\u0001@"),
        account.email + "\n",
    ):
        response = await http.post(f"{gateway.url}/auth/login", json={"email": email, "password": "whatever"})
        _is_refused(response, email)
    assert await _throttle_rows(db_engine) == before  # refused before any attempt was counted


async def test_admin_reservation_description_with_control_characters_is_400(
    gateway: RunningService, http: httpx.AsyncClient, make_account: MakeAccount, db_engine: AsyncEngine
) -> None:
    admin = await make_account("admin")
    good = {"user_id": str(admin.id), "amount": 2500, "currency": "EUR", "description": "Seat 7"}
    for description in ("Seat\u00007", "Seat 7\u001b[2J", "\u007f"):
        response = await http.post(
            f"{gateway.url}/admin/reservations",
            json={**good, "description": description},
            headers=admin.headers,
        )
        _is_refused(response, description)
    assert await _count(db_engine, Reservation) == 0
    multi_line = {**good, "description": "Seat 7\n\tBalcony"}
    created = await http.post(f"{gateway.url}/admin/reservations", json=multi_line, headers=admin.headers)
    assert created.status_code == 201, created.text
    assert created.json()["description"] == "Seat 7\n\tBalcony"


async def test_partner_name_and_url_with_control_characters_are_400(
    gateway: RunningService, http: httpx.AsyncClient, make_account: MakeAccount, db_engine: AsyncEngine
) -> None:
    admin = await make_account("admin")
    good = {"name": "acme", "url": "https://hooks.acme.example/paygate", "event_types": ["payment.succeeded"]}
    cases = [
        {"name": "ac\u0000me"},
        {"name": "acme\n"},
        {"url": "https://hooks.acme.example/pay\u0000gate"},
        {"url": "https://hooks.acme.example/\tx"},
        {"url": "https://hooks.acme.example/x\n"},
    ]
    for overrides in cases:
        response = await http.post(
            f"{gateway.url}/admin/partners", json={**good, **overrides}, headers=admin.headers
        )
        _is_refused(response, overrides)
    assert await _count(db_engine, Partner) == 0
    created = await http.post(f"{gateway.url}/admin/partners", json=good, headers=admin.headers)
    assert created.status_code == 201, created.text
    partner_id = created.json()["id"]
    for overrides in ({"name": "acme\u0000"}, {"url": "https://hooks.acme.example/\u0000"}):
        response = await http.patch(
            f"{gateway.url}/admin/partners/{partner_id}", json=overrides, headers=admin.headers
        )
        _is_refused(response, overrides)
    unchanged = (await http.get(f"{gateway.url}/admin/partners/{partner_id}", headers=admin.headers)).json()
    assert (unchanged["name"], unchanged["url"]) == (good["name"], good["url"])


async def test_checkout_urls_with_control_characters_are_400(
    checkouts: Checkouts,
    db_engine: AsyncEngine,
) -> None:
    owner, reservation_id = await checkouts.payer()
    cases = [
        {"return_url": RETURN_URL + "\u0000"},
        {"cancel_url": CANCEL_URL.replace("canceled", "cancel\u0000ed")},
        {"return_url": RETURN_URL + "\r\nSet-Cookie: x=1"},
        {"return_url": "javascript:alert(1)"},
    ]
    for overrides in cases:
        _is_refused(await checkouts.start(owner, reservation_id, **overrides), overrides)
    assert await _count(db_engine, Payment) == 0
    assert await reservation_state(db_engine, reservation_id) == ("payable", None, None)
    unknown = await checkouts.start(owner, uuid.uuid4(), return_url=RETURN_URL + "\u0000")
    _is_refused(unknown, "unknown reservation, bad url")
