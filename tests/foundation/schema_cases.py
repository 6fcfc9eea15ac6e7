"""The cases of the schema's rules: a row each table accepts, the rows that break one rule each
(with the constraint that must refuse them), the pairs of rows a unique rule refuses; and how a
refusal is read (the constraint's name, as asyncpg reports it)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Table, insert
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.models import (
    LATENCY_BOUNDS_MS,
    DeliveryAttempt,
    DeliveryRollup,
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
    DeliveryRollup: lambda _: {
        "partner_id": uuid.uuid4(),
        "minute": datetime(2026, 12, 1, 12, 0, tzinfo=UTC),
        "attempts": 2,
        "succeeded": 1,
        "latency_le": [1] * 5 + [2] * (len(LATENCY_BOUNDS_MS) - 5),
        "max_ms": 80,
    },
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
    (PaymentEvent, {"source": "gremlins"}, "ck_payment_events_source"),
    (PaymentEvent, {"fan_out_attempts": -1}, "ck_payment_events_fan_out_attempts"),
    (PaymentEvent, {"sequence": 0}, "ck_payment_events_sequence"),
    (PaymentEvent, {"sequence": 1}, "uq_payment_events_payment_id_sequence"),
    (PaymentEvent, {"purged_at": datetime.now(UTC)}, "ck_payment_events_purged_has_no_data"),
    (WebhookDelivery, {"event_id": uuid.uuid4()}, "fk_webhook_deliveries_event_id_payment_events"),
    (WebhookDelivery, {"status": "delivered"}, "ck_webhook_deliveries_status"),
    (WebhookDelivery, {"test": True, "status": "pending"}, "ck_webhook_deliveries_test_finished"),
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
    (DeliveryRollup, {"succeeded": 3}, "ck_delivery_rollups_succeeded"),
    (DeliveryRollup, {"succeeded": -1}, "ck_delivery_rollups_succeeded"),
    (DeliveryRollup, {"latency_le": [1, 2]}, "ck_delivery_rollups_latency_le"),
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
