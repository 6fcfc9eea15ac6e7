"""Dispatcher fixtures: a real partner receiver on 127.0.0.1, partners and outbox events in the real
database, and dispatchers run in the test's event loop (or as processes, see ``test_processes``)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import insert, text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from payment_ms.dispatcher.factory import open_dispatcher
from payment_ms.dispatcher.settings import DispatcherSettings
from payment_ms.dispatcher.worker import Dispatcher
from payment_ms.events.outbox import record_event
from payment_ms.payments.mapping import to_contract
from payment_ms.settings import PaymentSettings
from shared.contracts import EventType
from shared.models import DeliveryAttempt, Partner, Payment, WebhookDelivery
from shared.webhooks import generate_secret
from tests.fixtures.database import role_urls
from tests.fixtures.services import TEST_SERVICE_TOKEN, RunningService
from tests.fixtures.waiting import eventually


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def msg_id(self) -> str:
        return self.headers["webhook-id"]


Behaviour = Callable[[Received], Awaitable[web.StreamResponse]]


@dataclass
class Receiver:
    """Partners' endpoints: ``/<name>`` answers as ``behaviours[name]`` says (200 by default)."""

    base_url: str = ""
    received: list[Received] = field(default_factory=list)
    behaviours: dict[str, Behaviour] = field(default_factory=dict)

    def url(self, name: str) -> str:
        return f"{self.base_url}/{name}"

    def at(self, name: str) -> list[Received]:
        return [r for r in self.received if r.path == name]

    async def wait_count(self, name: str, count: int, timeout: float = 10.0) -> list[Received]:
        async def enough() -> list[Received]:
            got = self.at(name)
            return got if len(got) >= count else []

        return await eventually(enough, timeout, f"{count} requests at /{name}")

    def hold(self, name: str, status: int = 200, text: str | None = None) -> asyncio.Event:
        """``/<name>`` answers ``status`` only once the returned event is set: a partner that hangs."""
        released = asyncio.Event()

        async def held(_: Received) -> web.StreamResponse:
            await released.wait()
            return web.Response(status=status, text=text)

        self.behaviours[name] = held
        return released

    async def handle(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        headers = {k.lower(): v for k, v in request.headers.items()}
        received = Received(name, headers, await request.read(), time.monotonic())
        self.received.append(received)
        behaviour = self.behaviours.get(name)
        if behaviour is None:
            return web.Response(status=200, text="ok")
        return await behaviour(received)


@pytest.fixture(scope="session")
async def _receiver_server() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/{name}", receiver.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    receiver.base_url = f"http://127.0.0.1:{port}"
    yield receiver
    await runner.cleanup()


@pytest.fixture
def receiver(_receiver_server: Receiver) -> Receiver:
    _receiver_server.received.clear()
    _receiver_server.behaviours.clear()
    return _receiver_server


def respond(*answers: tuple[int, dict[str, str]] | int) -> Behaviour:
    """A behaviour answering the given statuses in turn, then 200."""
    queue = list(answers)

    async def behaviour(_: Received) -> web.StreamResponse:
        if not queue:
            return web.Response(status=200)
        answer = queue.pop(0)
        status, headers = answer if isinstance(answer, tuple) else (answer, {})
        return web.Response(status=status, headers=headers, text=f"answer {status}")

    return behaviour


async def add_partner(
    engine: AsyncEngine,
    url: str,
    event_types: tuple[str, ...] = ("payment.succeeded",),
    *,
    secret: str | None = None,
    retired: Sequence[tuple[str, datetime]] = (),
    ordered: bool = False,
    max_requests_per_second: int | None = None,
    payer_details: bool = False,
) -> tuple[uuid.UUID, str]:
    """A partner row; ``retired``: (secret, signs until) of secrets replaced by rotations."""
    secret = secret or generate_secret()
    async with engine.begin() as conn:
        partner_id = await conn.scalar(
            insert(Partner)
            .values(
                name=f"partner-{uuid.uuid4().hex[:10]}",
                url=url,
                event_types=list(event_types),
                secret=secret,
                retired_secrets=[
                    {"secret": s, "retired_at": until.isoformat(), "expires_at": until.isoformat()}
                    for s, until in retired
                ],
                ordered=ordered,
                max_requests_per_second=max_requests_per_second,
                payer_details=payer_details,
            )
            .returning(Partner.id)
        )
    assert partner_id is not None
    return partner_id, secret


async def insert_payment(conn: AsyncConnection, **values: Any) -> RowMapping:
    """A payment row (a mock ticket unless ``values`` say otherwise), as the database stored it."""
    defaults = {
        "reservation_id": uuid.uuid4(),
        "user_id": uuid.uuid4(),
        "amount": 2500,
        "currency": "EUR",
        "provider": "mock",
        "description": "ticket",
    }
    statement = insert(Payment).values(**{**defaults, **values})
    return (await conn.execute(statement.returning(*Payment.__table__.c))).mappings().one()


async def add_event(
    engine: AsyncEngine,
    event_type: EventType = "payment.succeeded",
    payment_id: uuid.UUID | None = None,
    **payment_values: Any,
) -> tuple[uuid.UUID, uuid.UUID]:
    """A payment (new unless given; ``payment_values`` set its other columns) and one outbox event,
    written by payment_ms's own outbox code."""
    async with engine.begin() as conn:
        if payment_id is None:
            row = await insert_payment(conn, **payment_values)
        else:
            row = (
                (await conn.execute(text("SELECT * FROM payments WHERE id = :id"), {"id": payment_id}))
                .mappings()
                .one()
            )
        event_id = await record_event(conn, to_contract(row), event_type)
    return row["id"], event_id


async def add_delivery(
    conn: AsyncConnection,
    event_id: uuid.UUID,
    partner_id: uuid.UUID,
    attempt: dict[str, Any],
    url: str = "https://partner.example/hooks",
    **columns: Any,
) -> uuid.UUID:
    """A delivery tried once (``columns``: its status and the rest) and that one attempt, as the
    dispatcher leaves them behind."""
    delivery_id = await conn.scalar(
        insert(WebhookDelivery)
        .values(event_id=event_id, partner_id=partner_id, url=url, attempt_count=1, **columns)
        .returning(WebhookDelivery.id)
    )
    assert delivery_id is not None
    await conn.execute(insert(DeliveryAttempt).values(delivery_id=delivery_id, attempt_number=1, **attempt))
    return delivery_id


async def two_events_received(
    engine: AsyncEngine,
    receiver: Receiver,
    dispatch: Callable[..., Any],
    name: str,
    types: tuple[EventType, EventType],
) -> list[Received]:
    """What partner ``name``, subscribed to ``types``, received once a dispatcher sent one payment's
    event of each type (in that order)."""
    first, second = types
    await add_partner(engine, receiver.url(name), types)
    async with dispatch():
        payment_id, _ = await add_event(engine, first)
        await add_event(engine, second, payment_id)
        return await receiver.wait_count(name, 2)


async def disabled_partner(engine: AsyncEngine, partner_id: uuid.UUID, what: str) -> dict[str, Any]:
    """The partner's row once it is disabled (by the dispatcher's health policy, a 410, ...)."""

    async def disabled() -> list[dict[str, Any]]:
        rows = await fetch(engine, "SELECT * FROM partners WHERE id = :id", id=partner_id)
        return rows if not rows[0]["enabled"] else []

    [partner] = await eventually(disabled, what=what)
    return partner


async def fetch(engine: AsyncEngine, sql: str, **params: Any) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        return [dict(r) for r in (await conn.execute(text(sql), params)).mappings().all()]


TEST_DISPATCHER_DEFAULTS: dict[str, Any] = {
    "lease_seconds": 10.0,
    "request_timeout_seconds": 5.0,
    "retry_schedule_seconds": [0.2, 0.2, 0.2],
    "retry_jitter": 0.0,
    "poll_interval_seconds": 1.0,
    "partner_cache_ttl_seconds": 0.2,
    "fan_out_max_backoff_seconds": 0.3,
    "reconcile_interval_seconds": 0.0,
    "stats_interval_seconds": 0.5,
    "gateway_timeout_seconds": 2.0,
}


def dispatcher_settings(gateway_url: str, **overrides: Any) -> DispatcherSettings:
    values = {**TEST_DISPATCHER_DEFAULTS, "gateway_url": gateway_url, **overrides}
    return DispatcherSettings(_env_file=None, **values)  # type: ignore[call-arg]


@asynccontextmanager
async def running_dispatcher(
    database_url: str, gateway_url: str, *, allow_loopback: bool = True, **overrides: Any
) -> AsyncIterator[Dispatcher]:
    async with open_dispatcher(
        dispatcher_settings(gateway_url, **overrides),
        # as payment_ms's role, like a deployed dispatcher (the owner's URL when the suite has no roles)
        database_url=role_urls(database_url).get("PAYGATE_PAYMENT_MS_DATABASE_URL", database_url),
        service_token=TEST_SERVICE_TOKEN,
        allow_loopback=allow_loopback,
        payment_settings=PaymentSettings(),  # what main builds for reconciliation
    ) as dispatcher:
        task = asyncio.create_task(dispatcher.run())
        ready = asyncio.create_task(dispatcher.ready.wait())
        await asyncio.wait({task, ready}, timeout=15, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()
        assert dispatcher.ready.is_set(), "the dispatcher did not start"
        try:
            yield dispatcher
        finally:
            dispatcher.stop()
            await asyncio.wait_for(task, 30)


@pytest.fixture
def dispatch(database_url: str, gateway: RunningService) -> Callable[..., Any]:
    """``async with dispatch(**settings) as d:`` a dispatcher asking the session gateway."""

    def start(**overrides: Any) -> Any:
        return running_dispatcher(database_url, gateway.internal_url, **overrides)

    return start
