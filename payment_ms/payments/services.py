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

import base64
import binascii
import functools
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import RowMapping, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from payment_ms.events.outbox import record_event
from payment_ms.metrics import TRANSITIONS
from payment_ms.payments import idempotency, refunds
from payment_ms.payments import repositories as repo
from payment_ms.payments.state import apply_outcome, to_contract, transition
from payment_ms.payments.transitions import SETTLED, event_for
from payment_ms.providers.base import (
    CheckoutSession,
    Provider,
    ProviderInconsistentError,
    ProviderRefusedError,
    call_provider,
)
from payment_ms.providers.registry import get_provider
from payment_ms.settings import settings
from shared.contracts import (
    CaptureCreate,
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
from shared.problems import (
    BadRequestError,
    ConflictError,
    IdempotencyKeyReusedError,
    InvalidInputError,
    NotFoundError,
)
from shared.settings import get_paygate_settings

_encode = msgspec.json.Encoder().encode
PaymentAction = Callable[[], Awaitable[Payment]]
MAX_STATS_DAYS = 366
DEFAULT_STATS_DAYS = 30


def encode_payment(payment: Payment) -> bytes:
    return _encode(payment)


# ------------------------------------------------------------------------------------------- create


def _validate_new(data: PaymentCreate) -> str:
    if not is_known_currency(data.currency):
        raise InvalidInputError(f"unknown currency {data.currency!r}", extra={"field": "currency"})
    check_amount(data.amount, get_paygate_settings().max_amount)
    provider = data.provider or settings.default_provider
    if provider == "cash" and data.capture_method == "manual":
        raise InvalidInputError("cash payments are captured by confirm-cash, not manually")
    if provider == "mock" and not (settings.allow_mock_provider or get_paygate_settings().is_dev):
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
    session = await call_provider(provider.name, "create", provider.create_checkout(payment_id, data))
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
    engine: AsyncEngine, data: PaymentCreate, *, idempotency_key: str, request_fingerprint: str
) -> tuple[int, bytes]:
    """Create a payment and its provider session; answers (status, body bytes), replays included.

    Mock and cash need no network: key, payment, event and notify commit in ONE transaction, and a
    concurrent duplicate waits on the key's row and then replays. Stripe's call runs between two
    transactions while the key is ``in_flight`` (a duplicate meanwhile gets 409).
    """
    provider_name = _validate_new(data)
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
        session = await call_provider(provider.name, "create", provider.create_checkout(payment_id, data))
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


def _encode_cursor(row: RowMapping) -> str:
    raw = f"{row['created_at'].isoformat()}|{row['id']}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created_at, payment_id = raw.split("|")
        return datetime.fromisoformat(created_at), uuid.UUID(payment_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadRequestError("invalid cursor") from None


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
    after = _decode_cursor(cursor) if cursor else None
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
    page = rows[:limit]
    next_cursor = _encode_cursor(page[-1]) if len(rows) > limit else None
    return PaymentList(items=[to_contract(row) for row in page], next_cursor=next_cursor)


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
        outcome = await call_provider(provider.name, "verify", provider.fetch_outcome(row))
        async with engine.begin() as conn:
            locked = await _locked(conn, payment_id)
            if _same_provider_state(locked, row):
                return to_contract(await apply_outcome(conn, locked, outcome))
        row = locked
    return to_contract(row)


@dataclass(frozen=True, slots=True)
class CommandRequest:
    """Who asked: the caller's Idempotency-Key (None: a one-off command) and its request fingerprint."""

    key: str | None = None
    fingerprint: str = ""


async def provider_key(
    engine: AsyncEngine, payment_id: uuid.UUID, action: str, request: CommandRequest
) -> str:
    """The idempotency key this command uses at the provider, stored with the command BEFORE the
    provider is asked (so a retry after a crash or a timeout is the same command at the provider).

    A retry of the same command (same Idempotency-Key) reuses it; any other command gets a new one, so
    a refusal the provider stored for an earlier key (Stripe keeps errors too) cannot answer it."""
    async with engine.begin() as conn:
        if await repo.get_payment(conn, payment_id) is None:
            raise NotFoundError(f"payment {payment_id} not found")
        row = await repo.command_key(
            conn,
            payment_id=payment_id,
            action=action,
            request_key=request.key,
            request_fingerprint=request.fingerprint,
            new_provider_key=f"paygate-{action}-{uuid.uuid4()}",
        )
    if row["request_fingerprint"] != request.fingerprint:
        raise IdempotencyKeyReusedError()
    key: str = row["provider_key"]
    return key


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


async def cancel_payment(
    engine: AsyncEngine,
    payment_id: uuid.UUID,
    request: CommandRequest = CommandRequest(),
    *,
    reason: str | None = None,
) -> Payment:
    """Cancel (expire the checkout) or release an authorization. When the provider refuses because the
    payer already finished (a completed Stripe session, an approved mock checkout whose event is late),
    the payment is settled from the provider's answer and the cancel is refused with its new status."""
    key = await provider_key(engine, payment_id, "cancel", request)

    async def act(conn: AsyncConnection, row: RowMapping, provider: Provider) -> dict[str, Any]:
        provider_status = await call_provider(provider.name, "cancel", provider.cancel(row, key))
        changes: dict[str, Any] = {"provider_status": provider_status}
        if reason:
            changes["failure_reason"] = reason[:500]
        return changes

    try:
        return await _command(engine, payment_id, "canceled", act)
    except ProviderRefusedError as refused:
        settled = await verify_payment(engine, payment_id)
        if settled.status == "canceled":
            return settled
        raise ConflictError(
            f"the provider refused to cancel ({refused.detail}); the payment is {settled.status}",
            extra={"payment_status": settled.status, **refused.extra},
        ) from None


async def release_expired_hold(engine: AsyncEngine, payment_id: uuid.UUID) -> Payment:
    """Reconciliation: an authorization nobody captured within the window is released."""
    return await cancel_payment(engine, payment_id, reason="the authorization expired before capture")


async def capture_payment(
    engine: AsyncEngine,
    payment_id: uuid.UUID,
    capture: CaptureCreate | None = None,
    request: CommandRequest = CommandRequest(),
) -> Payment:
    """Capture all or part of an authorization (the rest is released); never more than authorized."""
    key = await provider_key(engine, payment_id, "capture", request)

    async def act(conn: AsyncConnection, row: RowMapping, provider: Provider) -> dict[str, Any]:
        amount = capture.amount if capture is not None and capture.amount is not None else row["amount"]
        if amount > row["amount"]:
            raise InvalidInputError(
                f"capture of {amount} exceeds the {row['amount']} authorized",
                extra={"field": "amount", "capturable": row["amount"]},
            )
        provider_status = await call_provider(provider.name, "capture", provider.capture(row, amount, key))
        return {"provider_status": provider_status, "captured_amount": amount}

    return await _command(engine, payment_id, "succeeded", act, only_from="authorized")


async def confirm_cash_payment(
    engine: AsyncEngine, payment_id: uuid.UUID, confirmation: CashConfirmation
) -> Payment:
    async with engine.begin() as conn:
        row = await _locked(conn, payment_id)
        if row["provider"] != "cash":
            raise ConflictError(f"payment {payment_id} is a {row['provider']} payment, not cash")
        changes = {
            "provider_status": "confirmed",
            "captured_amount": row["amount"],
            "confirmed_by": confirmation.confirmed_by,
            "confirmed_at": func.now(),
        }
        return to_contract(await transition(conn, row, "succeeded", changes, strict=True))


async def refund_payment(
    engine: AsyncEngine,
    payment_id: uuid.UUID,
    refund: RefundCreate,
    request: CommandRequest = CommandRequest(),
) -> Payment:
    """Refund part or all of what is left; the total never exceeds what was captured (checked under
    the row lock, and by the database). A refund the provider has not finished is ``pending``: it
    holds its amount (``pending_refund_amount``) until the provider's event settles it."""
    key = await provider_key(engine, payment_id, "refund", request)
    async with engine.begin() as conn:
        row = await _locked(conn, payment_id)
        if row["status"] not in ("succeeded", "partially_refunded"):
            raise ConflictError(
                f"a {row['status']} payment cannot be refunded", extra={"payment_status": row["status"]}
            )
        remaining = row["captured_amount"] - row["refunded_amount"] - row["pending_refund_amount"]
        amount = refund.amount if refund.amount is not None else remaining
        if amount > remaining or amount <= 0:
            raise InvalidInputError(
                f"refund of {amount} exceeds the {remaining} left to refund",
                extra={"field": "amount", "refundable": remaining},
            )
        provider = get_provider(row["provider"])
        answer = await call_provider(provider.name, "refund", provider.refund(row, amount, key))
        return to_contract(await refunds.record_new_refund(conn, row, answer, reason=refund.reason))


# ------------------------------------------------------------------------ idempotent commands


async def run_idempotent(
    engine: AsyncEngine,
    *,
    scope: str,
    key: str | None,
    request_fingerprint: str,
    action: PaymentAction,
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
            lease_seconds=settings.idempotency_lease_seconds,
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
