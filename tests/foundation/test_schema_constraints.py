"""Rules the database itself enforces, whatever code writes to it.

Every refusal is checked by the name of the constraint that refused (asyncpg reports it), so a row refused
for some other reason, a missing parent say, cannot pass for the rule under test. Each case starts from a
row the database accepts (``test_the_base_rows_are_accepted``) and breaks exactly one rule.
"""

from __future__ import annotations

import uuid
from typing import get_args

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.contracts import CaptureMethod, EventType, PaymentStatus, ProviderName
from shared.models import (
    CAPTURE_METHODS,
    EVENT_TYPES,
    PAYMENT_PROVIDERS,
    PAYMENT_STATUSES,
    IdempotencyKey,
    Partner,
    Payment,
    PaymentCommand,
    Reservation,
)
from tests.foundation.schema_cases import (
    BASE_ROWS,
    DUPLICATES,
    REFUSED,
    Parents,
    _case_id,
    _insert,
    _payment_row,
    _refused_by,
    _sqlstate_and_constraint,
    _table,
    parents,
)

__all__ = ["parents"]  # a fixture, used by name below


@pytest.mark.parametrize("model", list(BASE_ROWS), ids=lambda m: m.__tablename__)
async def test_the_base_rows_are_accepted(db_engine: AsyncEngine, parents: Parents, model: type) -> None:
    async with db_engine.begin() as conn:
        await _insert(conn, model, BASE_ROWS[model](parents))
        count = (await conn.execute(text(f"SELECT count(*) FROM {model.__tablename__}"))).scalar_one()
    assert count >= 1


@pytest.mark.parametrize("case", REFUSED, ids=_case_id)
async def test_rows_that_break_the_rules_are_refused_by_their_constraint(
    db_engine: AsyncEngine, parents: Parents, case: tuple[type, dict[str, object], str]
) -> None:
    model, overrides, constraint = case
    row = {**BASE_ROWS[model](parents), **overrides}
    assert await _refused_by(db_engine, insert(_table(model)).values(**row)) == constraint


@pytest.mark.parametrize("case", DUPLICATES, ids=lambda c: c[1])
async def test_duplicates_are_refused_by_their_constraint(
    db_engine: AsyncEngine, parents: Parents, case: tuple[type, str]
) -> None:
    model, constraint = case
    row = BASE_ROWS[model](parents)
    async with db_engine.begin() as conn:
        await _insert(conn, model, row)
    assert await _refused_by(db_engine, insert(_table(model)).values(**row)) == constraint


async def test_an_over_long_currency_code_is_refused(db_engine: AsyncEngine) -> None:
    with pytest.raises(DBAPIError) as refused:
        async with db_engine.begin() as conn:
            await conn.execute(insert(Payment).values(**{**_payment_row(), "currency": "EURO"}))
    assert _sqlstate_and_constraint(refused.value) == ("22001", None)  # string_data_right_truncation


async def test_one_stripe_session_per_provider_session_id(db_engine: AsyncEngine) -> None:
    row = {**_payment_row(), "provider": "stripe", "provider_session_id": "cs_test_1"}
    async with db_engine.begin() as conn:
        await _insert(conn, Payment, row)
        await _insert(
            conn, Payment, {**row, "provider": "mock", "reservation_id": uuid.uuid4()}
        )  # per provider
        await _insert(conn, Payment, {**_payment_row(), "provider_session_id": None})
        await _insert(conn, Payment, {**_payment_row(), "provider_session_id": None})  # NULLs never clash
    assert await _refused_by(db_engine, insert(Payment).values(**row)) == "uq_payments_provider_session_id"


async def test_one_live_payment_per_reservation(db_engine: AsyncEngine) -> None:
    """pending, processing, authorized: one at a time per reservation; ended ones never clash."""
    reservation = uuid.uuid4()
    async with db_engine.begin() as conn:
        for status in ("failed", "canceled", "succeeded", "pending"):
            await _insert(conn, Payment, {**_payment_row(), "reservation_id": reservation, "status": status})
    for status in ("pending", "processing", "authorized"):
        second = insert(Payment).values(**{**_payment_row(), "reservation_id": reservation, "status": status})
        assert await _refused_by(db_engine, second) == "uq_payments_live_reservation_id"


COMMAND_UNIQUES = ("uq_payment_commands_payment_id_action_request_key", "uq_payment_commands_provider_key")


async def test_a_command_and_its_provider_key_are_unique(db_engine: AsyncEngine, parents: Parents) -> None:
    """One row per (payment, action, caller's key); one command per provider key. Commands without a
    caller's key (NULL) never clash."""
    row = BASE_ROWS[PaymentCommand](parents)
    async with db_engine.begin() as conn:
        await _insert(conn, PaymentCommand, row)
        await _insert(conn, PaymentCommand, {**row, "request_key": None, "provider_key": "p1"})
        await _insert(conn, PaymentCommand, {**row, "request_key": None, "provider_key": "p2"})
    same_command = insert(PaymentCommand).values(**{**row, "provider_key": "p3"})
    assert await _refused_by(db_engine, same_command) == COMMAND_UNIQUES[0]
    same_key = insert(PaymentCommand).values(**{**row, "request_key": "other"})
    assert await _refused_by(db_engine, same_key) == COMMAND_UNIQUES[1]


async def test_idempotency_key_is_unique_per_caller_scope(db_engine: AsyncEngine) -> None:
    async with db_engine.begin() as conn:
        await conn.execute(insert(IdempotencyKey).values(scope="user:a", key="k1", request_fingerprint="f"))
        await conn.execute(insert(IdempotencyKey).values(scope="user:b", key="k1", request_fingerprint="f"))
    refused = insert(IdempotencyKey).values(scope="user:a", key="k1", request_fingerprint="g")
    assert await _refused_by(db_engine, refused) == "pk_idempotency_keys"


@pytest.mark.parametrize("status", [None, *PAYMENT_STATUSES])
async def test_a_reservation_takes_every_payment_status_or_none(
    db_engine: AsyncEngine, parents: Parents, status: str | None
) -> None:
    async with db_engine.begin() as conn:
        await _insert(conn, Reservation, {**BASE_ROWS[Reservation](parents), "payment_status": status})
        stored = (await conn.execute(select(Reservation.payment_status))).scalar_one()
    assert stored == status


async def test_a_partner_may_subscribe_to_every_event_type(db_engine: AsyncEngine, parents: Parents) -> None:
    async with db_engine.begin() as conn:
        await _insert(conn, Partner, {**BASE_ROWS[Partner](parents), "event_types": list(EVENT_TYPES)})
        stored = (
            await conn.execute(select(Partner.event_types).where(Partner.name == "partner"))
        ).scalar_one()
    assert stored == list(EVENT_TYPES)


def test_the_models_vocabularies_are_the_contracts() -> None:
    assert get_args(PaymentStatus) == PAYMENT_STATUSES
    assert get_args(EventType) == EVENT_TYPES
    assert get_args(ProviderName) == PAYMENT_PROVIDERS
    assert get_args(CaptureMethod) == CAPTURE_METHODS


async def test_every_rule_in_the_schema_has_a_refusal_test(db_engine: AsyncEngine) -> None:
    """Check, foreign key and unique constraints and unique indexes: each is named by a case above, so a
    new rule comes with its test (and a renamed one is noticed)."""
    async with db_engine.connect() as conn:
        rows = await conn.execute(
            text(
                """
                SELECT c.conname FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
                WHERE n.nspname = 'public' AND c.contype IN ('c', 'f', 'u')
                UNION
                SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
                JOIN pg_namespace n ON n.oid = i.relnamespace
                WHERE n.nspname = 'public' AND x.indisunique AND NOT x.indisprimary
                  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
                """
            )
        )
        in_schema = {row[0] for row in rows}
    tested = (
        {case[2] for case in REFUSED}
        | {case[1] for case in DUPLICATES}
        | {"uq_payments_provider_session_id", "uq_payments_live_reservation_id"}
        | set(COMMAND_UNIQUES)
    )
    assert in_schema - tested == set(), "constraints without a refusal test"
    assert tested - in_schema == {"pk_idempotency_keys"}, "tests naming constraints the schema lacks"
