"""Baseline (b) of the checkout scenario: the floor of what any design can do here.

A minimal Litestar app, served by granian like the services: decode a ``PaymentCreate`` body with
msgspec and do one raw asyncpg INSERT of a payment row, answer 201 with its id and status. No
idempotency, no provider, no outbox: what is left is HTTP parsing, one round trip to PostgreSQL and
one commit. Run by the bench with ``BENCH_FLOOR_DATABASE_URL`` set.

Two diagnostic routes add what the outbox contract requires, one piece at a time, still on raw
asyncpg: ``/payments/outbox-no-notify`` writes the payment and its event row in one transaction;
``/payments/outbox`` also runs ``pg_notify`` in it (PostgreSQL serialises the commits of all
transactions that NOTIFY, WAL flush included), so the bench can show what each piece costs.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import msgspec
from litestar import Litestar, post
from litestar.datastructures import State

from shared.contracts import PaymentCreate
from shared.db import asyncpg_dsn

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
    INSERT INTO payment_events (payment_id, type, data) VALUES ($1, 'payment.created', $2::jsonb) RETURNING id
)
SELECT id FROM event
"""
OUTBOX_NOTIFY = """
WITH event AS (
    INSERT INTO payment_events (payment_id, type, data) VALUES ($1, 'payment.created', $2::jsonb) RETURNING id
)
SELECT id, pg_notify('payment_events', id::text) FROM event
"""


async def _with_event(data: PaymentCreate, state: State, outbox: str) -> Created:
    async with state.pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            INSERT,
            data.reservation_id,
            data.user_id,
            data.amount,
            data.currency,
            data.description,
            data.return_url,
            data.cancel_url,
        )
        event = msgspec.json.encode({"id": str(row["id"]), "amount": data.amount, "currency": data.currency})
        await conn.execute(outbox, row["id"], event.decode())
    return Created(id=str(row["id"]), status=row["status"])


@post("/payments/outbox", operation_id="floorCreateWithOutbox", status_code=201)
async def create_with_outbox(data: PaymentCreate, state: State) -> Created:
    return await _with_event(data, state, OUTBOX_NOTIFY)


@post("/payments/outbox-no-notify", operation_id="floorCreateWithOutboxNoNotify", status_code=201)
async def create_with_outbox_no_notify(data: PaymentCreate, state: State) -> Created:
    return await _with_event(data, state, OUTBOX)


@post("/payments", operation_id="floorCreatePayment", status_code=201)
async def create_payment(data: PaymentCreate, state: State) -> Created:
    row = await state.pool.fetchrow(
        INSERT,
        data.reservation_id,
        data.user_id,
        data.amount,
        data.currency,
        data.description,
        data.return_url,
        data.cancel_url,
    )
    return Created(id=str(row["id"]), status=row["status"])


def create_app() -> Litestar:
    return Litestar(
        route_handlers=[create_payment, create_with_outbox, create_with_outbox_no_notify],
        lifespan=[_pool],
        debug=False,
    )
