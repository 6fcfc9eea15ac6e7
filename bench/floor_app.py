"""Baseline (b) of the checkout scenario: the floor of what any design can do here.

A minimal Litestar app, served by granian like the services: decode a ``PaymentCreate`` body with
msgspec and do one raw asyncpg INSERT of a payment row, answer 201 with its id and status. No
idempotency, no provider, no outbox: what is left is HTTP parsing, one round trip to PostgreSQL and
one commit. Run by the bench with ``BENCH_FLOOR_DATABASE_URL`` set.
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
    return Litestar(route_handlers=[create_payment], lifespan=[_pool], debug=False)
