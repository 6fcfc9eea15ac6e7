"""The checkout's Idempotency-Key reaches payment_ms, and a second checkout with another key while a
payment is live is refused (sequentially, not a race), over real HTTP with the real payment_ms."""

from __future__ import annotations

import uuid

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from shared.models import IdempotencyKey, Reservation
from tests.fixtures.checkout import payment_count, reservation_state
from tests.fixtures.services import RunningService
from tests.gateway.conftest import Checkouts

PROBLEM = "application/problem+json"


async def _keys(db_engine: AsyncEngine, scope: str) -> list[tuple[str, uuid.UUID | None]]:
    async with AsyncSession(db_engine) as session:
        rows = await session.execute(
            select(IdempotencyKey.key, IdempotencyKey.payment_id).where(IdempotencyKey.scope == scope)
        )
        return [(key, payment_id) for key, payment_id in rows]


async def test_the_clients_key_is_forwarded_to_payment_ms(
    checkouts: Checkouts,
    gateway: RunningService,
    db_engine: AsyncEngine,
) -> None:
    owner, reservation_id = await checkouts.payer()
    key = f"order-{uuid.uuid4().hex}"
    first = await checkouts.start(owner, reservation_id, key=key)
    assert first.status_code == 201, first.text
    payment_id = uuid.UUID(first.json()["payment_id"])
    # payment_ms recorded the very key the client sent, scoped to the paying user
    assert await _keys(db_engine, f"user:{owner.id}") == [(key, payment_id)]

    # the gateway forgets the payment (its reservation row says nothing was started): a same-key retry
    # reaches payment_ms, which answers the payment that key created instead of a second one
    async with AsyncSession(db_engine) as session, session.begin():
        await session.execute(
            update(Reservation)
            .where(Reservation.id == reservation_id)
            .values(payment_id=None, payment_status=None, status="payable")
        )
    retry = await checkouts.start(owner, reservation_id, key=key)
    assert retry.status_code == 201, retry.text
    assert retry.json()["payment_id"] == str(payment_id)
    assert await payment_count(db_engine) == 1


async def test_another_key_while_a_payment_is_live_is_409(
    checkouts: Checkouts,
    db_engine: AsyncEngine,
) -> None:
    owner, reservation_id = await checkouts.payer()
    first = await checkouts.start(owner, reservation_id, key="first-key")
    assert first.status_code == 201
    second = await checkouts.start(owner, reservation_id, key="second-key")
    assert second.status_code == 409 and second.headers["content-type"] == PROBLEM
    assert second.json()["reservation_status"] == "pending"
    assert second.json()["payment_id"] == first.json()["payment_id"]
    assert await payment_count(db_engine) == 1
    assert await reservation_state(db_engine, reservation_id) == (
        "pending",
        uuid.UUID(first.json()["payment_id"]),
        "pending",
    )
    assert [key for key, _ in await _keys(db_engine, f"user:{owner.id}")] == ["first-key"]
