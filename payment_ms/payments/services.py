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
from typing import Any

from sqlalchemy import RowMapping, func
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from payment_ms.events.outbox import record_event
from payment_ms.metrics.definitions import TRANSITIONS
from payment_ms.payments import idempotency
from payment_ms.payments import repositories as repo
from payment_ms.payments.mapping import encode_payment, to_contract
from payment_ms.payments.transitions import SETTLED, event_for
from payment_ms.providers import cash
from payment_ms.providers.base import (
    Outcome,
    Provider,
    call_provider,
)
from payment_ms.providers.registry import get_provider
from shared.contracts import (
    CashConfirmation,
    Payment,
    PaymentStatus,
    RefundCreate,
)
from shared.problems import ConflictError, InvalidInputError, NotFoundError

PaymentAction = Callable[[], Awaitable[Payment]]


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
