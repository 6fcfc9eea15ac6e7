"""PostgreSQL stopped under load: every route of both services answers 503 problem+json with
Retry-After (never a 500, never a 502 relaying payment_ms's failure), and everything recovers by
itself once the database is back. The database is a throwaway embedded PostgreSQL of this module's
own, really stopped (fast shutdown: the pooled connections are dropped) and started again."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.users.services import create_user
from shared.db import create_engine
from shared.embedded_pg import FAST_UNSAFE_OPTIONS
from shared.models import Reservation
from tests.fixtures.services import (
    TEST_SERVICE_TOKEN,
    OwnStack,
    RunningService,
    own_stack,
    run_service,
    service_env,
)
from tests.fixtures.waiting import eventually
from tests.gateway.conftest import PASSWORD, MakeAccount

PROBLEM = "application/problem+json"
SERVICE = {"X-Service-Token": TEST_SERVICE_TOKEN}


@dataclass
class Outage(OwnStack):
    relay: RunningService  # a gateway whose own database (the suite's) stays up, before the same payment_ms


@pytest.fixture(scope="module")
def outage(log_dir: Path, database_url: str) -> Iterator[Outage]:
    with own_stack("outage-pg", FAST_UNSAFE_OPTIONS, log_dir, GATEWAY_PAYMENT_MS_RETRIES="0") as stack:
        relay_env = service_env(
            database_url, GATEWAY_PAYMENT_MS_URL=stack.payment_ms.url, GATEWAY_PAYMENT_MS_RETRIES="0"
        )
        with run_service("gateway", relay_env, log_dir) as relay:
            yield Outage(stack.database, stack.url, stack.payment_ms, stack.gateway, relay)


@dataclass
class World:
    user: dict[str, str]
    admin: dict[str, str]
    user_id: uuid.UUID
    reservation: uuid.UUID
    spare: uuid.UUID
    payment: str
    checkout_url: str


async def _seed(outage: Outage, http: httpx.AsyncClient) -> World:
    engine = create_engine(outage.url, pool_size=1, max_overflow=0)
    try:
        async with AsyncSession(engine) as session, session.begin():
            user = await create_user(session, email="payer@example.com", password=PASSWORD)
            await create_user(session, email="ops@example.com", password=PASSWORD, role="admin")
            reservations = [
                Reservation(user_id=user.id, amount=2500, currency="EUR", description="Seat")
                for _ in range(2)
            ]
            session.add_all(reservations)
            await session.flush()
            user_id, (paid, spare) = user.id, (r.id for r in reservations)
    finally:
        await engine.dispose()
    headers = {}
    for email in ("payer@example.com", "ops@example.com"):
        answer = await http.post(
            f"{outage.gateway.url}/auth/login", json={"email": email, "password": PASSWORD}
        )
        assert answer.status_code == 200, answer.text
        headers[email] = {"Authorization": f"Bearer {answer.json()['access_token']}"}
    started = await http.post(
        f"{outage.gateway.url}/payment-gateway/reservations/checkout",
        json=_checkout_body(paid),
        headers={**headers["payer@example.com"], "Idempotency-Key": uuid.uuid4().hex},
    )
    assert started.status_code == 201, started.text
    answer = started.json()
    return World(
        headers["payer@example.com"],
        headers["ops@example.com"],
        user_id,
        paid,
        spare,
        answer["payment_id"],
        answer["checkout_url"],
    )


def _checkout_body(reservation: uuid.UUID) -> dict[str, str]:
    return {
        "reservation_id": str(reservation),
        "return_url": "http://localhost:3000/paid",
        "cancel_url": "http://localhost:3000/canceled",
    }


def _requests(outage: Outage, world: World) -> list[tuple[str, str, dict[str, object]]]:
    """One request per route family of both services: (method, url, httpx keyword arguments)."""
    gw, ms, pid = outage.gateway.url, outage.payment_ms.url, world.payment
    key = {"Idempotency-Key": uuid.uuid4().hex}
    new_payment = {
        "reservation_id": str(uuid.uuid4()),
        "user_id": str(world.user_id),
        "amount": 100,
        "currency": "EUR",
    }
    login = {"email": "payer@example.com", "password": PASSWORD}
    reservation = {"user_id": str(world.user_id), "amount": 100, "currency": "EUR", "description": "x"}
    return [
        ("POST", f"{gw}/auth/login", {"json": login}),
        ("GET", f"{gw}/me", {"headers": world.user}),
        ("GET", f"{gw}/reservations", {"headers": world.user}),
        ("GET", f"{gw}/reservations/{world.reservation}", {"headers": world.user}),
        (
            "POST",
            f"{gw}/payment-gateway/reservations/checkout",
            {"json": _checkout_body(world.spare), "headers": {**world.user, **key}},
        ),
        ("GET", f"{gw}/payment-gateway/{pid}", {"headers": world.user}),
        ("POST", f"{gw}/payment-gateway/{pid}/verify", {"headers": world.user}),
        ("POST", f"{gw}/payment-gateway/{pid}/cancel", {"headers": world.user}),
        ("GET", f"{gw}/admin/reservations", {"headers": world.admin}),
        ("POST", f"{gw}/admin/reservations", {"json": reservation, "headers": world.admin}),
        ("GET", f"{gw}/admin/partners", {"headers": world.admin}),
        ("GET", f"{gw}/admin/payments", {"headers": world.admin}),
        ("GET", f"{gw}/admin/deliveries", {"headers": world.admin}),
        ("GET", f"{ms}/api/payments/{pid}", {"headers": SERVICE}),
        ("GET", f"{ms}/api/payments", {"headers": SERVICE}),
        ("POST", f"{ms}/api/payments", {"json": new_payment, "headers": {**SERVICE, **key}}),
        ("POST", f"{ms}/api/payments/{pid}/verify", {"headers": SERVICE}),
        ("GET", f"{ms}/api/events", {"headers": SERVICE}),
        ("GET", f"{ms}/api/deliveries", {"headers": SERVICE}),
        ("GET", world.checkout_url, {}),  # the payer's hosted checkout page
    ]


async def _send_all(
    http: httpx.AsyncClient, requests: list[tuple[str, str, dict[str, object]]]
) -> list[httpx.Response]:
    return await asyncio.gather(*(http.request(method, url, **kw) for method, url, kw in requests))  # type: ignore[arg-type]


def _unavailable(response: httpx.Response) -> bool:
    return (
        response.status_code == 503
        and response.headers.get("content-type") == PROBLEM
        and int(response.headers.get("retry-after", "0")) > 0
    )


async def test_the_database_stopped_under_load_is_a_503_then_everything_recovers(
    outage: Outage, http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    world = await _seed(outage, http)
    relay_admin = await make_account("admin", base_url=outage.relay.url)
    relayed = f"{outage.relay.url}/admin/payments"
    assert (await http.get(relayed, headers=relay_admin.headers)).status_code == 200
    warm = await _send_all(http, _requests(outage, world)[1:4] * 4)  # pooled connections in both services
    assert {r.status_code for r in warm} == {200}

    # under load: requests keep coming while the server shuts down (dropping their connections)
    seen: list[httpx.Response] = []
    stopping = asyncio.create_task(asyncio.to_thread(outage.database.stop))
    while not stopping.done():
        seen += await _send_all(http, _requests(outage, world)[1:8])
    await stopping
    down = await _send_all(http, _requests(outage, world))
    for (method, url, _), response in zip(_requests(outage, world), down, strict=True):
        assert _unavailable(response), (method, url, response.status_code, response.text[:300])
    # the gateway's own database is up, payment_ms's is not: payment_ms's 503 is passed on, not a 502
    passed_on = await http.get(relayed, headers=relay_admin.headers)
    assert _unavailable(passed_on), (passed_on.status_code, passed_on.text)
    assert passed_on.json()["type"].endswith("/database-unavailable")
    assert all(r.status_code < 500 or _unavailable(r) for r in seen), sorted(
        {(r.status_code, r.request.url.path) for r in seen if r.status_code >= 500 and not _unavailable(r)}
    )

    await asyncio.to_thread(outage.database.start)

    async def recovered() -> bool:
        answers = await _send_all(http, _requests(outage, world)[:4] + _requests(outage, world)[13:15])
        return all(r.status_code == 200 for r in answers)

    await eventually(recovered, timeout=30, what="both services answer again")
    assert (await http.get(relayed, headers=relay_admin.headers)).status_code == 200
    payment = await http.get(f"{outage.gateway.url}/payment-gateway/{world.payment}", headers=world.user)
    assert payment.status_code == 200 and payment.json()["id"] == world.payment
