"""Payments: create, read, and every state change, as plain async functions.

They take the ``AsyncEngine`` explicitly and open their own transactions, because a provider's network
call must sit between them (never inside a transaction that holds the row for long on the hot path).
Other code calls them directly, notably the dispatcher's reconciliation:

    await verify_payment(engine, payment_id) -> shared.contracts.Payment

asks the provider and applies the outcome (exactly one event per transition; settled payments are
returned unchanged). Errors are ``shared.problems.ApplicationError`` subclasses (NotFoundError,
ConflictError, provider 503/504).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import RowMapping, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from payment_ms.events.outbox import record_event
from payment_ms.metrics.definitions import TRANSITIONS
from payment_ms.payments import idempotency
from payment_ms.payments import repositories as repo
from payment_ms.payments.transitions import SETTLED, event_for
from payment_ms.providers import cash
from payment_ms.providers.base import (
    CheckoutSession,
    Outcome,
    Provider,
    ProviderInconsistentError,
    call_provider,
)
from payment_ms.providers.registry import get_provider
from payment_ms.settings import PaymentSettings
from shared.contracts import (
    CashConfirmation,
    DailyPaymentStat,
    DailyPaymentStats,
    Payment,
    PaymentCreate,
    PaymentList,
    PaymentStatus,
    RefundCreate,
)
from shared.db import raw_connection
from shared.money import check_amount, is_known_currency
from shared.observability import current_request_id
from shared.pagination import decode_cursor, page
from shared.problems import BadRequestError, ConflictError, InvalidInputError, NotFoundError

_encode = msgspec.json.Encoder().encode
PaymentAction = Callable[[], Awaitable[Payment]]
MAX_STATS_DAYS = 366
DEFAULT_STATS_DAYS = 30


def to_contract(row: RowMapping) -> Payment:
    return Payment(
        id=row["id"],
        reservation_id=row["reservation_id"],
        user_id=row["user_id"],
        amount=row["amount"],
        currency=row["currency"],
        status=row["status"],
        provider=row["provider"],
        capture_method=row["capture_method"],
        captured_amount=row["captured_amount"],
        refunded_amount=row["refunded_amount"],
        description=row["description"],
        checkout_url=row["checkout_url"],
        return_url=row["return_url"],
        cancel_url=row["cancel_url"],
        payer_email=row["payer_email"],
        payer_name=row["payer_name"],
        metadata=row["metadata"],
        failure_reason=row["failure_reason"],
        confirmed_by=row["confirmed_by"],
        confirmed_at=row["confirmed_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def encode_payment(payment: Payment) -> bytes:
    return _encode(payment)


# ------------------------------------------------------------------------------------------- create


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


def _new_row(payment_id: uuid.UUID, data: PaymentCreate, provider: str) -> dict[str, Any]:
    return {
        "id": payment_id,
        "reservation_id": data.reservation_id,
        "user_id": data.user_id,
        "amount": data.amount,
        "currency": data.currency,
        "provider": provider,
        "capture_method": data.capture_method,
        "description": data.description,
        "payer_email": data.payer_email,
        "payer_name": data.payer_name,
        "return_url": data.return_url,
        "cancel_url": data.cancel_url,
        "metadata": data.metadata,
    }


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


def new_payment(
    payment_id: uuid.UUID, data: PaymentCreate, provider: str, checkout_url: str | None, now: datetime
) -> Payment:
    """A just-created payment as it is answered and recorded (``pending``, nothing captured yet)."""
    return Payment(
        id=payment_id,
        reservation_id=data.reservation_id,
        user_id=data.user_id,
        amount=data.amount,
        currency=data.currency,
        status="pending",
        provider=provider,  # type: ignore[arg-type]
        capture_method=data.capture_method,
        captured_amount=0,
        refunded_amount=0,
        description=data.description,
        checkout_url=checkout_url,
        return_url=data.return_url,
        cancel_url=data.cancel_url,
        payer_email=data.payer_email,
        payer_name=data.payer_name,
        metadata=dict(data.metadata),
        failure_reason=None,
        confirmed_by=None,
        confirmed_at=None,
        created_at=now,
        updated_at=now,
    )


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
        if created:
            TRANSITIONS.labels("payment.created").inc()
            return 201, body
        existing = await conn.fetchrow(idempotency.KEY_ROW, scope, key)
    replay = idempotency.answer_for_existing(existing, request_fingerprint)
    if replay is None:
        raise idempotency.still_in_progress()
    return replay.status, replay.body


SESSION_UNIQUE = "uq_payments_provider_session_id"


def _constraint(exc: IntegrityError) -> str | None:
    """The name of the constraint asyncpg reports under SQLAlchemy's wrapper."""
    cause = getattr(exc.orig, "__cause__", None)
    return getattr(cause, "constraint_name", None) or getattr(exc.orig, "constraint_name", None)


async def create_payment(
    engine: AsyncEngine,
    data: PaymentCreate,
    *,
    settings: PaymentSettings,
    idempotency_key: str,
    request_fingerprint: str,
) -> tuple[int, bytes]:
    """Create a payment and its provider session; answers (status, body bytes), replays included.

    Mock and cash need no network: key, payment, event and notify commit in ONE transaction, and a
    concurrent duplicate waits on the key's row and then replays. Stripe's call runs between two
    transactions while the key is ``in_flight`` (a duplicate meanwhile gets 409).
    """
    provider_name = _validate_new(data, settings)
    provider = get_provider(provider_name)
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

    async with engine.begin() as conn:
        claimed = await claim(conn)
        if isinstance(claimed, idempotency.Replay):
            return claimed.status, claimed.body
        payment_id = claimed.payment_id or uuid.uuid4()
        if claimed.payment_id is None:
            await repo.insert_payment(conn, _new_row(payment_id, data, provider.name))
            await idempotency.attach_payment(conn, scope=scope, key=key, payment_id=payment_id)
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


# ------------------------------------------------------------------------------------------- read


async def get_payment(engine: AsyncEngine, payment_id: uuid.UUID) -> Payment:
    async with engine.connect() as conn:
        row = await repo.get_payment(conn, payment_id)
    if row is None:
        raise NotFoundError(f"payment {payment_id} not found")
    return to_contract(row)


async def list_payments(
    engine: AsyncEngine,
    *,
    status: str | None = None,
    provider: str | None = None,
    user_id: uuid.UUID | None = None,
    reservation_id: uuid.UUID | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> PaymentList:
    after = decode_cursor(cursor)
    async with engine.connect() as conn:
        rows = await repo.list_payments(
            conn,
            status=status,
            provider=provider,
            user_id=user_id,
            reservation_id=reservation_id,
            created_from=created_from,
            created_to=created_to,
            after=after,
            limit=limit + 1,
        )
    items, next_cursor = page(rows, limit, lambda row: (row["created_at"], row["id"]))
    return PaymentList(items=[to_contract(row) for row in items], next_cursor=next_cursor)


async def daily_stats(
    engine: AsyncEngine, *, day_from: date | None, day_to: date | None
) -> DailyPaymentStats:
    day_to = day_to or datetime.now(UTC).date()
    if day_to == date.max:  # the query's end is the day after ``to``, which does not exist
        raise BadRequestError(f"to must be before {date.max.isoformat()}")
    if day_from is None:
        if day_to.toordinal() - date.min.toordinal() < DEFAULT_STATS_DAYS - 1:
            raise BadRequestError(
                f"the default range ({DEFAULT_STATS_DAYS} days up to to) starts before "
                f"{date.min.isoformat()}; give from"
            )
        day_from = day_to - timedelta(days=DEFAULT_STATS_DAYS - 1)
    if day_from > day_to:
        raise BadRequestError("from must not be after to")
    if (day_to - day_from).days >= MAX_STATS_DAYS:
        raise BadRequestError(f"at most {MAX_STATS_DAYS} days per query")
    async with engine.connect() as conn:
        rows = await repo.daily_stats(conn, day_from=day_from, day_to=day_to)
    return DailyPaymentStats(
        day_from=day_from.isoformat(),
        day_to=day_to.isoformat(),
        items=[
            DailyPaymentStat(
                day=row["day"].isoformat(),
                provider=row["provider"],
                status=row["status"],
                currency=row["currency"],
                count=row["count"],
                amount=int(row["amount"]),
            )
            for row in rows
        ],
    )


async def count_by_status(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        result = await conn.execute(
            select(repo.payments.c.status, func.count()).group_by(repo.payments.c.status)
        )
        return {status: count for status, count in result.all()}


# ------------------------------------------------------------------------------------ transitions


async def transition(
    conn: AsyncConnection,
    row: RowMapping,
    target: PaymentStatus,
    changes: dict[str, Any] | None = None,
    *,
    strict: bool,
) -> RowMapping:
    """Move a LOCKED payment row to ``target``, writing its event; the only place statuses change.

    A move the state machine forbids raises 409 when ``strict`` (an explicit command), and is a no-op
    otherwise (verify and webhooks report what the provider says; a settled payment stays settled).
    """
    event_type = event_for(row["status"], target)
    if event_type is None:
        if strict:
            raise ConflictError(
                f"a {row['status']} payment cannot become {target}",
                extra={"payment_status": row["status"]},
            )
        return row
    updated = await repo.update_payment(conn, row["id"], {"status": target, **(changes or {})})
    await record_event(conn, to_contract(updated), event_type)
    TRANSITIONS.labels(event_type).inc()
    return updated


async def apply_outcome(conn: AsyncConnection, row: RowMapping, outcome: Outcome) -> RowMapping:
    """Bring a LOCKED row in line with what the provider reports (verify and webhooks share this).

    An outcome whose status the row cannot move to (it is behind the row, e.g. ``pending`` for a row
    already ``processing`` or ``authorized``) changes nothing at all, not even the provider's fields:
    writing them would put the row's provider state back in time.
    """
    changes: dict[str, Any] = {}
    if outcome.provider_status is not None and outcome.provider_status != row["provider_status"]:
        changes["provider_status"] = outcome.provider_status
    if outcome.provider_payment_id and outcome.provider_payment_id != row["provider_payment_id"]:
        changes["provider_payment_id"] = outcome.provider_payment_id
    if outcome.status == row["status"]:
        if changes and row["status"] not in SETTLED:
            return await repo.update_payment(conn, row["id"], changes)
        return row
    if event_for(row["status"], outcome.status) is None:
        return row
    if outcome.status == "succeeded":
        changes["captured_amount"] = row["amount"]
    if outcome.failure_reason and outcome.status in ("failed", "canceled"):
        changes["failure_reason"] = outcome.failure_reason[:500]
    return await transition(conn, row, outcome.status, changes, strict=False)


async def _locked(conn: AsyncConnection, payment_id: uuid.UUID) -> RowMapping:
    row = await repo.lock_payment(conn, payment_id)
    if row is None:
        raise NotFoundError(f"payment {payment_id} not found")
    return row


# What the provider was asked about: when any of it changed before the answer is applied, the answer
# may describe an older state (the payer approved on the page, a webhook landed) and is not applied.
_PROVIDER_STATE = ("status", "provider_status", "provider_payment_id", "provider_session_id")
VERIFY_ATTEMPTS = 3


def _same_provider_state(a: RowMapping, b: RowMapping) -> bool:
    return all(a[field] == b[field] for field in _PROVIDER_STATE)


async def verify_payment(engine: AsyncEngine, payment_id: uuid.UUID) -> Payment:
    """Ask the provider (outside any transaction), then apply the answer under the row lock.

    Optimistic: the answer is applied only if the LOCKED row is still in the state the provider was
    asked about; otherwise the provider is asked again about the new state (a few times, then the row
    is answered as it is, unchanged by a possibly stale answer).
    """
    async with engine.connect() as conn:
        row = await repo.get_payment(conn, payment_id)
    if row is None:
        raise NotFoundError(f"payment {payment_id} not found")
    for _ in range(VERIFY_ATTEMPTS):
        provider = get_provider(row["provider"])
        if row["status"] in SETTLED or (provider.remote and row["provider_session_id"] is None):
            return to_contract(row)  # settled, or its checkout is still being created: nothing to ask
        outcome = await call_provider(provider, "verify", provider.fetch_outcome(row))
        async with engine.begin() as conn:
            locked = await _locked(conn, payment_id)
            if _same_provider_state(locked, row):
                return to_contract(await apply_outcome(conn, locked, outcome))
        row = locked
    return to_contract(row)


async def _command(
    engine: AsyncEngine,
    payment_id: uuid.UUID,
    target: PaymentStatus,
    act: Callable[[AsyncConnection, RowMapping, Provider], Awaitable[dict[str, Any]]],
    *,
    only_from: str | None = None,
) -> Payment:
    """An explicit command: lock, refuse an illegal move before touching the provider, act, move.

    The provider call runs with the row locked, so a concurrent command or webhook cannot interleave
    with it; these commands are rare next to creates and verifies.
    """
    async with engine.begin() as conn:
        row = await _locked(conn, payment_id)
        if event_for(row["status"], target) is None or only_from not in (None, row["status"]):
            raise ConflictError(
                f"a {row['status']} payment cannot become {target}",
                extra={"payment_status": row["status"]},
            )
        changes = await act(conn, row, get_provider(row["provider"]))
        return to_contract(await transition(conn, row, target, changes, strict=True))


async def cancel_payment(engine: AsyncEngine, payment_id: uuid.UUID) -> Payment:
    async def act(conn: AsyncConnection, row: RowMapping, provider: Provider) -> dict[str, Any]:
        provider_status = await call_provider(provider, "cancel", provider.cancel(row))
        return {"provider_status": provider_status}

    return await _command(engine, payment_id, "canceled", act)


async def capture_payment(engine: AsyncEngine, payment_id: uuid.UUID) -> Payment:
    async def act(conn: AsyncConnection, row: RowMapping, provider: Provider) -> dict[str, Any]:
        provider_status = await call_provider(provider, "capture", provider.capture(row))
        return {"provider_status": provider_status, "captured_amount": row["amount"]}

    return await _command(engine, payment_id, "succeeded", act, only_from="authorized")


async def confirm_cash_payment(
    engine: AsyncEngine, payment_id: uuid.UUID, confirmation: CashConfirmation
) -> Payment:
    async with engine.begin() as conn:
        row = await _locked(conn, payment_id)
        if row["provider"] != "cash":
            raise ConflictError(f"payment {payment_id} is a {row['provider']} payment, not cash")
        changes = {
            "provider_status": cash.CONFIRMED,
            "captured_amount": row["amount"],
            "confirmed_by": confirmation.confirmed_by,
            "confirmed_at": func.now(),
        }
        return to_contract(await transition(conn, row, "succeeded", changes, strict=True))


async def refund_payment(engine: AsyncEngine, payment_id: uuid.UUID, refund: RefundCreate) -> Payment:
    """Refund part or all of what is left; the total never exceeds what was captured (checked under
    the row lock, and by the database)."""
    async with engine.begin() as conn:
        row = await _locked(conn, payment_id)
        if row["status"] not in ("succeeded", "partially_refunded"):
            raise ConflictError(
                f"a {row['status']} payment cannot be refunded", extra={"payment_status": row["status"]}
            )
        remaining = row["captured_amount"] - row["refunded_amount"]
        amount = refund.amount if refund.amount is not None else remaining
        if amount > remaining:
            raise InvalidInputError(
                f"refund of {amount} exceeds the {remaining} left to refund",
                extra={"field": "amount", "refundable": remaining},
            )
        provider = get_provider(row["provider"])
        # Deterministic: a retry of the same refund after a timeout is the same refund at the provider.
        provider_key = f"paygate-refund-{payment_id}-{row['refunded_amount']}-{amount}"
        provider_refund_id = await call_provider(
            provider, "refund", provider.refund(row, amount, provider_key)
        )
        await repo.insert_refund(
            conn,
            payment_id=payment_id,
            amount=amount,
            provider_refund_id=provider_refund_id,
            reason=refund.reason,
        )
        refunded = row["refunded_amount"] + amount
        target: PaymentStatus = "refunded" if refunded == row["captured_amount"] else "partially_refunded"
        return to_contract(await transition(conn, row, target, {"refunded_amount": refunded}, strict=True))


# ------------------------------------------------------------------------ idempotent commands


async def run_idempotent(
    engine: AsyncEngine,
    *,
    scope: str,
    key: str | None,
    request_fingerprint: str,
    action: PaymentAction,
    lease_seconds: float,
    status: int = 200,
) -> tuple[int, bytes]:
    """Run a payment command under an optional Idempotency-Key (scope ``payment:{id}:{action}``)."""
    if key is None:
        return status, encode_payment(await action())
    idempotency.validate_key(key)
    async with engine.begin() as conn:
        claim = await idempotency.claim(
            conn,
            scope=scope,
            key=key,
            request_fingerprint=request_fingerprint,
            lease_seconds=lease_seconds,
        )
    if isinstance(claim, idempotency.Replay):
        return claim.status, claim.body
    try:
        payment = await action()
    except BaseException:
        async with engine.begin() as conn:
            await idempotency.release(conn, scope=scope, key=key)
        raise
    body = encode_payment(payment)
    async with engine.begin() as conn:
        await idempotency.complete(
            conn, scope=scope, key=key, status=status, body=body, payment_id=payment.id
        )
    return status, body
