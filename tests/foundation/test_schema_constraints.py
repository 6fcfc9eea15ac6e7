"""Rules the database itself enforces, whatever code writes to it.

Every refusal is checked by the name of the constraint that refused (asyncpg reports it), so a row refused
for some other reason, a missing parent say, cannot pass for the rule under test. Each case starts from a
row the database accepts (``test_the_base_rows_are_accepted``) and breaks exactly one rule.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, get_args

import pytest
from sqlalchemy import Table, delete, insert, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.contracts import CaptureMethod, EventType, PaymentStatus, ProviderName
from shared.models import (
    CAPTURE_METHODS,
    EVENT_TYPES,
    PAYMENT_PROVIDERS,
    PAYMENT_STATUSES,
    DeliveryAttempt,
    EndpointHealth,
    IdempotencyKey,
    LoginThrottle,
    OperationalEvent,
    Partner,
    PartnerApiToken,
    Payment,
    PaymentCommand,
    PaymentEvent,
    PortalLink,
    Refund,
    Reservation,
    User,
    WebhookDelivery,
    WebSession,
)

# ------------------------------------------------------------------------------------------ helpers


def _sqlstate_and_constraint(exc: DBAPIError) -> tuple[str, str | None]:
    """asyncpg's own exception (SQLAlchemy's adapter chains it as the cause) knows both."""
    cause = exc.orig.__cause__ if exc.orig is not None else None
    assert cause is not None, f"no driver exception behind {exc!r}"
    return cause.sqlstate, getattr(cause, "constraint_name", None)  # type: ignore[attr-defined]


async def _refused_by(engine: AsyncEngine, *statements: Any) -> str | None:
    """Run ``statements`` in one transaction (committed, so deferred checks run too); the refusing
    constraint's name. Fails the test when the database accepts them."""
    with pytest.raises(IntegrityError) as refused:
        async with engine.begin() as conn:
            for statement in statements:
                await conn.execute(statement)
    return _sqlstate_and_constraint(refused.value)[1]


def _table(model: type) -> Table:
    return model.__table__  # type: ignore[attr-defined,no-any-return]


@dataclass(frozen=True)
class Parents:
    """One accepted row of each table, for children to point at."""

    user_id: uuid.UUID
    payment_id: uuid.UUID
    event_id: uuid.UUID
    delivery_id: uuid.UUID
    partner_id: uuid.UUID
    link_id: uuid.UUID


@pytest.fixture
async def parents(db_engine: AsyncEngine) -> Parents:
    async with db_engine.begin() as conn:
        user_id = await _insert(conn, User, {"email": "parent@example.com", "password_hash": "h"})
        payment_id = await _insert(conn, Payment, _payment_row())
        event_id = await _insert(
            conn,
            PaymentEvent,
            {"payment_id": payment_id, "type": "payment.created", "data": {}, "sequence": 1},
        )
        delivery_id = await _insert(
            conn,
            WebhookDelivery,
            {"event_id": event_id, "partner_id": uuid.uuid4(), "url": "https://p.example/h"},
        )
        partner_id = await _insert(
            conn,
            Partner,
            {
                "name": "parent",
                "url": "https://p.example/h",
                "event_types": ["payment.created"],
                "secret": "whsec_p",
            },
        )
        link_id = await _insert(
            conn,
            PortalLink,
            {
                "partner_id": partner_id,
                "token_hash": "p" * 64,
                "issued_by": "ops",
                "expires_at": datetime.now(UTC),
            },
        )
    return Parents(user_id, payment_id, event_id, delivery_id, partner_id, link_id)


async def _insert(conn: AsyncConnection, model: type, values: dict[str, object]) -> Any:
    table = _table(model)
    pk = next(iter(table.primary_key.columns))
    return (await conn.execute(insert(table).values(**values).returning(pk))).scalar_one()


# A valid row of each table, given the parents it may need.
Row = Callable[[Parents], dict[str, object]]


def _payment_row() -> dict[str, object]:
    return {
        "reservation_id": uuid.uuid4(),
        "user_id": uuid.uuid4(),
        "amount": 1000,
        "currency": "EUR",
        "provider": "mock",
    }


BASE_ROWS: dict[type, Row] = {
    User: lambda _: {"email": "someone@example.com", "password_hash": "h"},
    LoginThrottle: lambda _: {"key": "ip:127.0.0.1", "failures": 1},
    Reservation: lambda p: {"user_id": p.user_id, "amount": 100, "currency": "EUR", "description": "x"},
    Partner: lambda _: {
        "name": "partner",
        "url": "https://p.example/hook",
        "event_types": ["payment.succeeded"],
        "secret": "whsec_abc",
    },
    Payment: lambda _: _payment_row(),
    Refund: lambda p: {"payment_id": p.payment_id, "amount": 100, "provider_refund_id": "re_base"},
    PaymentCommand: lambda p: {
        "payment_id": p.payment_id,
        "action": "capture",
        "request_key": "k",
        "request_fingerprint": "f",
        "provider_key": "paygate-capture-base",
    },
    IdempotencyKey: lambda p: {
        "scope": "user:x",
        "key": "k",
        "request_fingerprint": "f",
        "payment_id": p.payment_id,
    },
    PaymentEvent: lambda p: {
        "payment_id": p.payment_id,
        "type": "payment.succeeded",
        "data": {},
        "sequence": 2,
    },
    WebhookDelivery: lambda p: {
        "event_id": p.event_id,
        "partner_id": uuid.uuid4(),
        "url": "https://p.example/h",
    },
    DeliveryAttempt: lambda p: {
        "delivery_id": p.delivery_id,
        "attempt_number": 1,
        "started_at": datetime.now(UTC),
        "duration_ms": 5,
    },
    PortalLink: lambda p: {
        "partner_id": p.partner_id,
        "token_hash": "l" * 64,
        "issued_by": "ops@example.com",
        "expires_at": datetime.now(UTC),
    },
    WebSession: lambda p: {
        "token_hash": "s" * 64,
        "kind": "portal",
        "partner_id": p.partner_id,
        "portal_link_id": p.link_id,
        "csrf_token": "c",
        "expires_at": datetime.now(UTC),
    },
    PartnerApiToken: lambda p: {
        "partner_id": p.partner_id,
        "name": "feed",
        "token_hash": "t" * 64,
        "prefix": "pgp_x",
    },
    OperationalEvent: lambda _: {"type": "endpoint.enabled", "partner_id": uuid.uuid4(), "data": {}},
    EndpointHealth: lambda _: {"partner_id": uuid.uuid4(), "consecutive_failures": 3},
}
_CONSOLE_SESSION = {"kind": "console", "partner_id": None, "portal_link_id": None}

# (table, what breaks the rule, the constraint that must refuse it)
REFUSED: list[tuple[type, dict[str, object], str]] = [
    (User, {"role": "root"}, "ck_users_role"),
    (User, {"email": "Someone@Example.com"}, "ck_users_email"),
    (User, {"email": "a"}, "ck_users_email"),
    (LoginThrottle, {"failures": -1}, "ck_login_throttles_failures"),
    (Reservation, {"user_id": uuid.uuid4()}, "fk_reservations_user_id_users"),
    (Reservation, {"amount": 0}, "ck_reservations_amount_positive"),
    (Reservation, {"amount": -100}, "ck_reservations_amount_positive"),
    (Reservation, {"currency": "eur"}, "ck_reservations_currency"),
    (Reservation, {"status": "lost"}, "ck_reservations_status"),
    (Reservation, {"payment_status": "lost"}, "ck_reservations_payment_status"),
    (Reservation, {"payment_status": "paid"}, "ck_reservations_payment_status"),  # a reservation word
    (Partner, {"event_types": []}, "ck_partners_event_types_not_empty"),
    (Partner, {"event_types": ["payment.succeeded", "payment.exploded"]}, "ck_partners_event_types_known"),
    (Partner, {"secret": "plain"}, "ck_partners_secret_format"),
    (Partner, {"retired_secrets": {"secret": "whsec_old"}}, "ck_partners_retired_secrets_array"),
    (Partner, {"max_requests_per_second": 0}, "ck_partners_max_requests_per_second"),
    (Payment, {"amount": 0}, "ck_payments_amount_positive"),
    (Payment, {"currency": "eur"}, "ck_payments_currency"),
    (Payment, {"currency": "E1R"}, "ck_payments_currency"),
    (Payment, {"status": "lost"}, "ck_payments_status"),
    (Payment, {"provider": "paypal"}, "ck_payments_provider"),
    (Payment, {"capture_method": "later"}, "ck_payments_capture_method"),
    (Payment, {"captured_amount": 2000}, "ck_payments_captured_amount"),
    (Payment, {"captured_amount": 500, "refunded_amount": 600}, "ck_payments_refunded_amount"),
    (Payment, {"refunded_amount": -1}, "ck_payments_refunded_amount"),
    (Payment, {"captured_amount": 500, "pending_refund_amount": 600}, "ck_payments_pending_refund_amount"),
    (Payment, {"pending_refund_amount": -1}, "ck_payments_pending_refund_amount"),
    (Payment, {"dispute_status": "forgotten"}, "ck_payments_dispute_status"),
    (Payment, {"dispute_amount": -1}, "ck_payments_dispute_amount"),
    (Reservation, {"capture_method": "later"}, "ck_reservations_capture_method"),
    (Refund, {"status": "done"}, "ck_refunds_status"),
    (PaymentCommand, {"action": "explode"}, "ck_payment_commands_action"),
    (PaymentCommand, {"payment_id": uuid.uuid4()}, "fk_payment_commands_payment_id_payments"),
    (Refund, {"payment_id": uuid.uuid4()}, "fk_refunds_payment_id_payments"),
    (Refund, {"amount": 0}, "ck_refunds_amount_positive"),
    (IdempotencyKey, {"state": "done"}, "ck_idempotency_keys_state"),
    (IdempotencyKey, {"key": ""}, "ck_idempotency_keys_key_length"),
    (IdempotencyKey, {"state": "completed"}, "ck_idempotency_keys_completed_has_response"),
    (
        IdempotencyKey,
        {"response_status": 201, "response_body": b"{}"},
        "ck_idempotency_keys_completed_has_response",
    ),
    (
        IdempotencyKey,
        {"state": "completed", "response_status": 42, "response_body": b"{}"},
        "ck_idempotency_keys_response_status",
    ),
    (IdempotencyKey, {"payment_id": uuid.uuid4()}, "fk_idempotency_keys_payment_id_payments"),
    (PaymentEvent, {"payment_id": uuid.uuid4()}, "fk_payment_events_payment_id_payments"),
    (PaymentEvent, {"type": "payment.exploded"}, "ck_payment_events_type"),
    (PaymentEvent, {"fan_out_attempts": -1}, "ck_payment_events_fan_out_attempts"),
    (PaymentEvent, {"sequence": 0}, "ck_payment_events_sequence"),
    (PaymentEvent, {"sequence": 1}, "uq_payment_events_payment_id_sequence"),
    (PaymentEvent, {"purged_at": datetime.now(UTC)}, "ck_payment_events_purged_has_no_data"),
    (WebhookDelivery, {"event_id": uuid.uuid4()}, "fk_webhook_deliveries_event_id_payment_events"),
    (WebhookDelivery, {"status": "delivered"}, "ck_webhook_deliveries_status"),
    (WebhookDelivery, {"attempt_count": -1}, "ck_webhook_deliveries_attempt_count"),
    (WebhookDelivery, {"throttled_count": 1}, "ck_webhook_deliveries_throttled_count"),
    (WebhookDelivery, {"held": "forever"}, "ck_webhook_deliveries_held"),
    (DeliveryAttempt, {"delivery_id": uuid.uuid4()}, "fk_delivery_attempts_delivery_id_webhook_deliveries"),
    (DeliveryAttempt, {"attempt_number": 0}, "ck_delivery_attempts_attempt_number"),
    (DeliveryAttempt, {"duration_ms": -1}, "ck_delivery_attempts_duration_ms"),
    (DeliveryAttempt, {"response_excerpt": "x" * 2049}, "ck_delivery_attempts_excerpt_cap"),
    (WebSession, {"kind": "admin"}, "ck_web_sessions_kind"),
    (WebSession, {"partner_id": None}, "ck_web_sessions_owner"),  # a portal session belongs to a partner
    (WebSession, {"kind": "console"}, "ck_web_sessions_owner"),  # a console session to a user, not a partner
    (WebSession, {**_CONSOLE_SESSION, "user_id": uuid.uuid4()}, "fk_web_sessions_user_id_users"),
    (WebSession, {"partner_id": uuid.uuid4()}, "fk_web_sessions_partner_id_partners"),
    (WebSession, {"portal_link_id": uuid.uuid4()}, "fk_web_sessions_portal_link_id_portal_links"),
    (PortalLink, {"partner_id": uuid.uuid4()}, "fk_portal_links_partner_id_partners"),
    (PartnerApiToken, {"partner_id": uuid.uuid4()}, "fk_partner_api_tokens_partner_id_partners"),
    (PartnerApiToken, {"name": ""}, "ck_partner_api_tokens_name_length"),
    (OperationalEvent, {"type": "endpoint.exploded"}, "ck_operational_events_type"),
    (EndpointHealth, {"consecutive_failures": -1}, "ck_endpoint_health_consecutive_failures"),
]

# Rules about two rows: the first is accepted, the second (same values) refused.
DUPLICATES: list[tuple[type, str]] = [
    (User, "uq_users_email"),
    (Partner, "uq_partners_name"),
    (IdempotencyKey, "pk_idempotency_keys"),
    (WebhookDelivery, "uq_webhook_deliveries_event_id_partner_id"),
    (DeliveryAttempt, "uq_delivery_attempts_delivery_id_attempt_number"),
    (Refund, "uq_refunds_provider_refund_id"),
    (PortalLink, "uq_portal_links_token_hash"),
    (PartnerApiToken, "uq_partner_api_tokens_token_hash"),
]


def _case_id(case: tuple[type, dict[str, object], str]) -> str:
    return f"{case[2]}:{'+'.join(case[1])}"


# ------------------------------------------------------------------------------------------ tests


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


# ------------------------------------------------ idempotency_keys.payment_id → payments.id


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


# ------------------------------------------------------------------------------ completeness


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
