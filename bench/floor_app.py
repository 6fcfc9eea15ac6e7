"""Baseline (b) of the checkout scenario: the floor of what any design can do here.

A minimal Litestar app, served by granian like the services: decode a ``PaymentCreate`` body with
msgspec and do one raw asyncpg INSERT of a payment row, answer 201 with its id and status. No
idempotency, no provider, no outbox: what is left is HTTP parsing, one round trip to PostgreSQL and
one commit. Run by the bench with ``BENCH_FLOOR_DATABASE_URL`` set.

Two diagnostic routes add what the outbox contract requires, one piece at a time, still on raw
asyncpg: ``/payments/outbox-no-notify`` writes the payment and its event row in one transaction;
``/payments/outbox`` also runs ``pg_notify`` in it (PostgreSQL serialises the commits of all
transactions that NOTIFY, WAL flush included), so the bench can show what each piece costs.
``/payments/contract`` runs payment_ms's own create statement (``insert_created_payment``: the
idempotency key with its stored response, the payment with its checkout session, the
``payment.created`` event with the payment as data, the NOTIFY, in ONE statement; a concurrent
duplicate waits on the key's row and then replays it) with none of payment_ms around it: what
``checkout.direct`` costs beyond it is payment_ms's own Python.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated

import asyncpg
import msgspec
from litestar import Litestar, Response, post
from litestar.datastructures import State
from litestar.params import HeaderParameter, JSONBody

from bench.floor_hop import payment_ms_session, proxy_create, proxy_create_typed
from payment_ms.payments.mapping import new_payment
from payment_ms.payments.repositories import find_key, insert_created_payment
from payment_ms.providers.base import CheckoutSession
from shared.contracts import PaymentCreate
from shared.db import asyncpg_dsn
from shared.outbox import NOTIFY_EVENT

INSERT = """
INSERT INTO payments
    (reservation_id, user_id, amount, currency, provider, description, return_url, cancel_url)
VALUES ($1, $2, $3, $4, 'mock', $5, $6, $7)
RETURNING id, status
"""


class Created(msgspec.Struct):
    id: str
    status: str


@asynccontextmanager
async def _pool(app: Litestar) -> AsyncIterator[None]:
    pool = await asyncpg.create_pool(
        asyncpg_dsn(os.environ["BENCH_FLOOR_DATABASE_URL"]), min_size=10, max_size=20
    )
    app.state.pool = pool
    try:
        yield
    finally:
        await pool.close()


OUTBOX = """
WITH event AS (
    INSERT INTO payment_events (payment_id, type, data, sequence)
    VALUES ($1, 'payment.created', $2::jsonb, 1) RETURNING id
)
SELECT id FROM event
"""
OUTBOX_NOTIFY = OUTBOX.replace("SELECT id FROM event", NOTIFY_EVENT)


def _insert_args(data: PaymentCreate) -> tuple[object, ...]:
    return (
        data.reservation_id,
        data.user_id,
        data.amount,
        data.currency,
        data.description,
        data.return_url,
        data.cancel_url,
    )


async def _with_event(data: PaymentCreate, state: State, outbox: str) -> Created:
    async with state.pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(INSERT, *_insert_args(data))
        event = msgspec.json.encode({"id": str(row["id"]), "amount": data.amount, "currency": data.currency})
        await conn.execute(outbox, row["id"], event.decode())
    return Created(id=str(row["id"]), status=row["status"])


@post("/payments/outbox", operation_id="floorCreateWithOutbox", status_code=201)
async def create_with_outbox(data: JSONBody[PaymentCreate], state: State) -> Created:
    return await _with_event(data, state, OUTBOX_NOTIFY)


@post("/payments/outbox-no-notify", operation_id="floorCreateWithOutboxNoNotify", status_code=201)
async def create_with_outbox_no_notify(data: JSONBody[PaymentCreate], state: State) -> Created:
    return await _with_event(data, state, OUTBOX)


@post("/payments/contract", operation_id="floorCreateContract", status_code=201)
async def create_contract(
    data: JSONBody[PaymentCreate],
    state: State,
    idempotency_key: Annotated[str, HeaderParameter(name="Idempotency-Key", min_length=1, max_length=255)],
) -> Response[bytes]:
    """payment_ms's own create statement (``insert_created_payment``) without payment_ms around it."""
    payment_id, now = uuid.uuid4(), datetime.now(UTC)
    session = CheckoutSession(
        session_id=f"mock_cs_{payment_id.hex}",
        checkout_url=f"http://127.0.0.1:8001/checkout/mock/{payment_id}",
        provider_status="open",
    )
    payment = new_payment(payment_id, data, "mock", session.checkout_url, now)
    body = msgspec.json.encode(payment)
    scope = f"user:{data.user_id}"
    fingerprint = hashlib.sha256(msgspec.json.encode(data, order="sorted")).hexdigest()
    async with state.pool.acquire() as conn:
        created = await insert_created_payment(
            conn,
            payment,
            session,
            scope=scope,
            key=idempotency_key,
            request_fingerprint=fingerprint,
            body=body,
            request_id=None,
        )
        if not created:  # the key exists: same request -> its stored answer
            row = await find_key(conn, scope=scope, key=idempotency_key)
            if row is None or row["request_fingerprint"] != fingerprint:
                return Response(b'{"title":"key reused"}', status_code=422, media_type="application/json")
            body = bytes(row["response_body"])
    return Response(body, status_code=201, media_type="application/json")


@post("/payments", operation_id="floorCreatePayment", status_code=201)
async def create_payment(data: JSONBody[PaymentCreate], state: State) -> Created:
    row = await state.pool.fetchrow(INSERT, *_insert_args(data))
    return Created(id=str(row["id"]), status=row["status"])


def create_app() -> Litestar:
    return Litestar(
        route_handlers=[
            create_payment,
            create_with_outbox,
            create_with_outbox_no_notify,
            create_contract,
            proxy_create,
            proxy_create_typed,
        ],
        lifespan=[_pool, payment_ms_session],
        debug=False,
    )
