"""Creating a payment: its provider session, its row, its ``payment.created`` event and its
idempotency key.

Mock and cash need no network: key, payment, event and notify are ONE statement (raw asyncpg, the
benchmark's hot path). Stripe's call runs between two transactions while the key is ``in_flight``.
Both write the same rows for the same request (tests/payment_ms/test_create_paths.py).

A reservation has at most one live payment: the create fails on the partial unique index
``uq_payments_live_reservation_id`` inside its own statement (nothing written) and answers 409
``reservation-has-live-payment``, which the gateway relays. That is what keeps two concurrent checkouts
of one reservation from both paying, so the gateway needs no durable claim of its own.
"""

from __future__ import annotations

import functools
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
from sqlalchemy import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from payment_ms.events.outbox import record_event
from payment_ms.metrics.definitions import TRANSITIONS
from payment_ms.payments import idempotency
from payment_ms.payments import repositories as repo
from payment_ms.payments.mapping import encode_payment, new_payment, new_row, to_contract
from payment_ms.providers.base import (
    CheckoutSession,
    Provider,
    ProviderInconsistentError,
    call_provider,
)
from payment_ms.providers.registry import ProviderRegistry
from payment_ms.settings import PaymentSettings
from shared.contracts import PaymentCreate
from shared.db import raw_connection
from shared.money import check_amount, is_known_currency
from shared.observability import current_request_id
from shared.problems import ConflictError, InvalidInputError

LIVE_PAYMENT_UNIQUE = "uq_payments_live_reservation_id"
SESSION_UNIQUE = "uq_payments_provider_session_id"


class ReservationHasLivePaymentError(
    ConflictError, code="reservation-has-live-payment", title="The reservation already has a live payment"
):
    """``payment_id``: the live one (None if it ended in the meantime)."""

    def __init__(self, payment_id: uuid.UUID | None) -> None:
        super().__init__(
            "this reservation already has a live payment (pending, processing or authorized)",
            extra={"payment_id": str(payment_id) if payment_id else None},
            headers={"Retry-After": "1"},
        )


async def _live_conflict(
    conn: asyncpg.Connection, reservation_id: uuid.UUID
) -> ReservationHasLivePaymentError:
    return ReservationHasLivePaymentError(await repo.live_payment_of(conn, reservation_id))


def _validate_new(data: PaymentCreate, settings: PaymentSettings) -> str:
    if not is_known_currency(data.currency):
        raise InvalidInputError(f"unknown currency {data.currency!r}", extra={"field": "currency"})
    check_amount(data.amount, settings.paygate.max_amount)
    provider = data.provider or settings.default_provider
    if provider == "cash" and data.capture_method == "manual":
        raise InvalidInputError("cash payments are captured by confirm-cash, not manually")
    if provider == "mock" and not (settings.allow_mock_provider or settings.paygate.is_dev):
        raise InvalidInputError(
            "the mock provider is off outside dev (PAYMENT_MS_ALLOW_MOCK_PROVIDER)",
            extra={"field": "provider"},
        )
    if provider == "stripe":
        if not settings.stripe_secret_key.get_secret_value():
            raise InvalidInputError("the stripe provider is not configured")
        if not data.return_url:
            raise InvalidInputError("stripe payments need a return_url", extra={"field": "return_url"})
    return provider


def _session_fields(session: CheckoutSession) -> dict[str, Any]:
    return {
        "provider_session_id": session.session_id,
        "checkout_url": session.checkout_url,
        "provider_status": session.provider_status,
    }


async def _finish_create(
    conn: AsyncConnection, row: RowMapping, *, scope: str, key: str
) -> tuple[int, bytes]:
    payment = to_contract(row)
    await record_event(conn, payment, "payment.created")
    TRANSITIONS.labels("payment.created").inc()
    body = encode_payment(payment)
    await idempotency.complete(conn, scope=scope, key=key, status=201, body=body, payment_id=payment.id)
    return 201, body


async def _create_local(
    engine: AsyncEngine,
    provider: Provider,
    data: PaymentCreate,
    *,
    scope: str,
    key: str,
    request_fingerprint: str,
) -> tuple[int, bytes]:
    """Mock and cash: the session is made first (no network), then key, payment, event and notify are
    ONE statement; the answer is built here, stored with the key, and is the event's ``data``."""
    payment_id = uuid.uuid4()
    session = await call_provider(provider, "create", provider.create_checkout(payment_id, data))
    payment = new_payment(payment_id, data, provider.name, session.checkout_url, datetime.now(UTC))
    body = encode_payment(payment)
    async with raw_connection(engine) as conn:
        try:
            created = await repo.insert_created_payment(
                conn,
                payment,
                session,
                scope=scope,
                key=key,
                request_fingerprint=request_fingerprint,
                body=body,
                request_id=current_request_id(),
            )
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name != LIVE_PAYMENT_UNIQUE:
                raise
            raise await _live_conflict(conn, data.reservation_id) from None
        if created:
            TRANSITIONS.labels("payment.created").inc()
            return 201, body
        existing = await repo.find_key(conn, scope=scope, key=key)
    replay = idempotency.answer_for_existing(existing, request_fingerprint)
    if replay is None:
        raise idempotency.still_in_progress()
    return replay.status, replay.body


def _constraint(exc: IntegrityError) -> str | None:
    """The name of the constraint asyncpg reports under SQLAlchemy's wrapper."""
    cause = getattr(exc.orig, "__cause__", None)
    return getattr(cause, "constraint_name", None) or getattr(exc.orig, "constraint_name", None)


async def create_payment(
    engine: AsyncEngine,
    data: PaymentCreate,
    *,
    settings: PaymentSettings,
    providers: ProviderRegistry,
    idempotency_key: str,
    request_fingerprint: str,
) -> tuple[int, bytes]:
    """Create a payment and its provider session; answers (status, body bytes), replays included.

    Mock and cash need no network: key, payment, event and notify commit in ONE transaction, and a
    concurrent duplicate waits on the key's row and then replays. Stripe's call runs between two
    transactions while the key is ``in_flight`` (a duplicate meanwhile gets 409).
    """
    provider_name = _validate_new(data, settings)
    provider = providers.get(provider_name)
    scope = f"user:{data.user_id}"
    key = idempotency.validate_key(idempotency_key)
    claim = functools.partial(
        idempotency.claim,
        scope=scope,
        key=key,
        request_fingerprint=request_fingerprint,
        lease_seconds=settings.idempotency_lease_seconds,
    )
    if not provider.remote:
        return await _create_local(
            engine, provider, data, scope=scope, key=key, request_fingerprint=request_fingerprint
        )

    try:
        async with engine.begin() as conn:
            claimed = await claim(conn)
            if isinstance(claimed, idempotency.Replay):
                return claimed.status, claimed.body
            payment_id = claimed.payment_id or uuid.uuid4()
            if claimed.payment_id is None:
                await repo.insert_payment(conn, new_row(payment_id, data, provider.name))
                await idempotency.attach_payment(conn, scope=scope, key=key, payment_id=payment_id)
    except IntegrityError as exc:
        if _constraint(exc) != LIVE_PAYMENT_UNIQUE:
            raise
        async with raw_connection(engine) as raw:
            raise await _live_conflict(raw, data.reservation_id) from None
    try:
        session = await call_provider(provider, "create", provider.create_checkout(payment_id, data))
        try:
            async with engine.begin() as conn:
                row = await repo.update_payment(conn, payment_id, _session_fields(session))
                return await _finish_create(conn, row, scope=scope, key=key)
        except IntegrityError as exc:
            if _constraint(exc) != SESSION_UNIQUE:
                raise
            raise ProviderInconsistentError(
                f"{provider.name} answered with a checkout session another payment already has"
            ) from None
    except BaseException:
        async with engine.begin() as conn:
            await idempotency.release(conn, scope=scope, key=key)
            await repo.delete_payment(conn, payment_id)
        raise
