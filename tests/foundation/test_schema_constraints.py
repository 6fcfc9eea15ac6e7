"""Rules the database itself enforces, whatever code writes to it."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.models import IdempotencyKey, Payment, Reservation, User


def _payment(**overrides: object) -> dict[str, object]:
    values: dict[str, object] = {
        "reservation_id": uuid.uuid4(),
        "user_id": uuid.uuid4(),
        "amount": 1000,
        "currency": "EUR",
        "provider": "mock",
    }
    values.update(overrides)
    return values


@pytest.mark.parametrize(
    "overrides",
    [
        {"amount": 0},
        {"amount": -5},
        {"currency": "eur"},
        {"currency": "EURO"},
        {"status": "lost"},
        {"provider": "paypal"},
        {"capture_method": "later"},
        {"captured_amount": 2000},
        {"captured_amount": 500, "refunded_amount": 600},
    ],
)
async def test_payment_rows_that_break_the_rules_are_refused(
    db_engine: AsyncEngine, overrides: dict[str, object]
) -> None:
    with pytest.raises(DBAPIError):  # IntegrityError for checks, DataError for an over-long code
        async with db_engine.begin() as conn:
            await conn.execute(insert(Payment).values(**_payment(**overrides)))


async def test_a_valid_payment_row_is_accepted(db_engine: AsyncEngine) -> None:
    async with db_engine.begin() as conn:
        row = (await conn.execute(insert(Payment).values(**_payment()).returning(Payment.status))).one()
    assert row.status == "pending"


async def test_idempotency_key_is_unique_per_caller_scope(db_engine: AsyncEngine) -> None:
    async with db_engine.begin() as conn:
        await conn.execute(insert(IdempotencyKey).values(scope="user:a", key="k1", request_fingerprint="f"))
        await conn.execute(insert(IdempotencyKey).values(scope="user:b", key="k1", request_fingerprint="f"))
    with pytest.raises(IntegrityError):
        async with db_engine.begin() as conn:
            await conn.execute(
                insert(IdempotencyKey).values(scope="user:a", key="k1", request_fingerprint="g")
            )


async def test_reservation_needs_an_existing_user(db_engine: AsyncEngine) -> None:
    with pytest.raises(IntegrityError):
        async with db_engine.begin() as conn:
            await conn.execute(
                insert(Reservation).values(user_id=uuid.uuid4(), amount=100, currency="EUR", description="x")
            )


async def test_user_email_is_unique(db_engine: AsyncEngine) -> None:
    async with db_engine.begin() as conn:
        await conn.execute(insert(User).values(email="a@example.com", password_hash="h"))
    with pytest.raises(IntegrityError):
        async with db_engine.begin() as conn:
            await conn.execute(insert(User).values(email="a@example.com", password_hash="h"))
