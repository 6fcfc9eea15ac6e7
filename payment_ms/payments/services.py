"""Payments: every state change, as plain async functions (creating one: ``creation``; reading:
``queries``; the row <-> contract mapping: ``mapping``).

They take the ``AsyncEngine`` explicitly and open their own transactions, because a provider's network
call must sit between them (never inside a transaction that holds the row for long on the hot path).
Other code calls them directly, notably the dispatcher's reconciliation:

    await verify_payment(engine, payment_id) -> shared.contracts.Payment

asks the provider and applies the outcome (exactly one event per transition; settled payments are
returned unchanged). Errors are ``shared.problems.ApplicationError`` subclasses (NotFoundError,
ConflictError, provider 503/504).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import RowMapping, func
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from payment_ms.payments import idempotency, refunds
from payment_ms.payments import repositories as repo
from payment_ms.payments.mapping import encode_payment, to_contract
from payment_ms.payments.state import apply_outcome, transition
from payment_ms.payments.transitions import SETTLED, event_for
from payment_ms.providers.base import (
    Provider,
    ProviderRefusedError,
    call_provider,
)
from payment_ms.providers.registry import ProviderRegistry
from shared.contracts import (
    CaptureCreate,
    CashConfirmation,
    Payment,
    PaymentStatus,
    RefundCreate,
)
from shared.problems import ConflictError, IdempotencyKeyReusedError, InvalidInputError, NotFoundError, found

PaymentAction = Callable[[], Awaitable[Payment]]


async def _locked(conn: AsyncConnection, payment_id: uuid.UUID) -> RowMapping:
    return found(await repo.lock_payment(conn, payment_id), f"payment {payment_id} not found")


# What the provider was asked about: when any of it changed before the answer is applied, the answer
# may describe an older state (the payer approved on the page, a webhook landed) and is not applied.
_PROVIDER_STATE = ("status", "provider_status", "provider_payment_id", "provider_session_id")
VERIFY_ATTEMPTS = 3


def _same_provider_state(a: RowMapping, b: RowMapping) -> bool:
    return all(a[field] == b[field] for field in _PROVIDER_STATE)


async def verify_payment(engine: AsyncEngine, providers: ProviderRegistry, payment_id: uuid.UUID) -> Payment:
    """Ask the provider (outside any transaction), then apply the answer under the row lock.

    Optimistic: the answer is applied only if the LOCKED row is still in the state the provider was
    asked about; otherwise the provider is asked again about the new state (a few times, then the row
    is answered as it is, unchanged by a possibly stale answer).
    """
    async with engine.connect() as conn:
        row = found(await repo.get_payment(conn, payment_id), f"payment {payment_id} not found")
    for _ in range(VERIFY_ATTEMPTS):
        provider = providers.get(row["provider"])
        if row["status"] in SETTLED or (provider.remote and row["provider_session_id"] is None):
            return to_contract(row)  # settled, or its checkout is still being created: nothing to ask
        outcome = await call_provider(provider, "verify", provider.fetch_outcome(row))
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
    providers: ProviderRegistry,
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
        changes = await act(conn, row, providers.get(row["provider"]))
        return to_contract(await transition(conn, row, target, changes, strict=True))


async def cancel_payment(
    engine: AsyncEngine,
    providers: ProviderRegistry,
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
        provider_status = await call_provider(provider, "cancel", provider.cancel(row, key))
        changes: dict[str, Any] = {"provider_status": provider_status}
        if reason:
            changes["failure_reason"] = reason[:500]
        return changes

    try:
        return await _command(engine, providers, payment_id, "canceled", act)
    except ProviderRefusedError as refused:
        settled = await verify_payment(engine, providers, payment_id)
        if settled.status == "canceled":
            return settled
        raise ConflictError(
            f"the provider refused to cancel ({refused.detail}); the payment is {settled.status}",
            extra={"payment_status": settled.status, **refused.extra},
        ) from None


async def release_expired_hold(
    engine: AsyncEngine, providers: ProviderRegistry, payment_id: uuid.UUID
) -> Payment:
    """Reconciliation: an authorization nobody captured within the window is released."""
    reason = "the authorization expired before capture"
    return await cancel_payment(engine, providers, payment_id, reason=reason)


async def capture_payment(
    engine: AsyncEngine,
    providers: ProviderRegistry,
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
        provider_status = await call_provider(provider, "capture", provider.capture(row, amount, key))
        return {"provider_status": provider_status, "captured_amount": amount}

    return await _command(engine, providers, payment_id, "succeeded", act, only_from="authorized")


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
    providers: ProviderRegistry,
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
        provider = providers.get(row["provider"])
        answer = await call_provider(provider, "refund", provider.refund(row, amount, key))
        return to_contract(await refunds.record_new_refund(conn, row, answer, reason=refund.reason))


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
