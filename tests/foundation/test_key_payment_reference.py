"""``idempotency_keys.payment_id`` → ``payments.id``: DEFERRABLE INITIALLY DEFERRED and ON DELETE SET
NULL, so the single-statement create may write the key before its payment, and a failed create is
released in either order."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.models import (
    IdempotencyKey,
    Payment,
    PaymentEvent,
)
from tests.foundation.schema_cases import BASE_ROWS, Parents, _insert, _payment_row, _refused_by, parents

__all__ = ["parents"]  # a fixture, used by name below


async def test_a_key_may_name_its_payment_before_the_payment_row_exists_in_the_same_transaction(
    db_engine: AsyncEngine,
) -> None:
    payment_id = uuid.uuid4()
    async with db_engine.begin() as conn:  # the check is deferred to the commit
        await conn.execute(
            insert(IdempotencyKey).values(
                scope="user:x", key="k", request_fingerprint="f", payment_id=payment_id
            )
        )
        await conn.execute(insert(Payment).values(**_payment_row(), id=payment_id))
    async with db_engine.connect() as conn:
        assert (await conn.execute(select(IdempotencyKey.payment_id))).scalar_one() == payment_id


async def test_key_payment_and_event_in_one_statement_are_accepted(db_engine: AsyncEngine) -> None:
    """The single-statement create (CTEs): the key names a payment inserted by the same statement."""
    payment_id = uuid.uuid4()
    statement = text(
        """
        WITH k AS (
            INSERT INTO idempotency_keys (scope, key, request_fingerprint, payment_id)
            VALUES ('user:x', 'k', 'f', :id) RETURNING payment_id
        ), p AS (
            INSERT INTO payments (id, reservation_id, user_id, amount, currency, provider)
            SELECT payment_id, gen_random_uuid(), gen_random_uuid(), 100, 'EUR', 'mock' FROM k RETURNING id
        )
        INSERT INTO payment_events (payment_id, type, data, sequence)
        SELECT id, 'payment.created', '{}', 1 FROM p
        """
    )
    async with db_engine.begin() as conn:
        await conn.execute(statement, {"id": payment_id})
    async with db_engine.connect() as conn:
        assert (await conn.execute(select(PaymentEvent.payment_id))).scalar_one() == payment_id


async def test_a_key_naming_a_payment_that_never_came_is_refused_at_commit(db_engine: AsyncEngine) -> None:
    statement = insert(IdempotencyKey).values(
        scope="user:x", key="k", request_fingerprint="f", payment_id=uuid.uuid4()
    )
    assert await _refused_by(db_engine, statement) == "fk_idempotency_keys_payment_id_payments"
    async with db_engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM idempotency_keys"))).scalar_one() == 0


@pytest.mark.parametrize("key_first", [True, False], ids=["key-then-payment", "payment-then-key"])
async def test_releasing_a_failed_create_deletes_key_and_payment_in_either_order(
    db_engine: AsyncEngine, parents: Parents, key_first: bool
) -> None:
    """The Stripe path's release; deleting the payment first leaves the key with no payment (SET NULL)."""
    async with db_engine.begin() as conn:
        await _insert(conn, IdempotencyKey, BASE_ROWS[IdempotencyKey](parents))
    delete_key = delete(IdempotencyKey).where(IdempotencyKey.key == "k")
    delete_payment = delete(Payment).where(Payment.id == parents.payment_id)
    async with db_engine.begin() as conn:
        if key_first:
            await conn.execute(delete_key)
            await conn.execute(delete_payment)
        else:
            await conn.execute(delete_payment)
            assert (await conn.execute(select(IdempotencyKey.payment_id))).scalar_one() is None
            await conn.execute(delete_key)
    async with db_engine.connect() as conn:
        left = (
            await conn.execute(
                text("SELECT (SELECT count(*) FROM idempotency_keys) + (SELECT count(*) FROM payments)")
            )
        ).scalar_one()
    assert left == 0


async def test_a_key_may_not_be_pointed_at_a_missing_payment_later(
    db_engine: AsyncEngine, parents: Parents
) -> None:
    async with db_engine.begin() as conn:
        await _insert(conn, IdempotencyKey, BASE_ROWS[IdempotencyKey](parents))
    statement = update(IdempotencyKey).values(payment_id=uuid.uuid4())
    assert await _refused_by(db_engine, statement) == "fk_idempotency_keys_payment_id_payments"
