"""Refunds and their states, on a LOCKED payment row (the caller's transaction).

A refund is ``pending`` until the provider finishes it (Stripe ``pending``/``requires_action``), then
``succeeded`` or ``failed``, never back. A pending refund holds its amount in
``pending_refund_amount`` (not refundable again, not yet in ``refunded_amount``); success moves it to
``refunded_amount`` and the payment to ``partially_refunded``/``refunded`` (``payment.refunded``), a
failure gives it back (``payment.refund_failed``). A refund made outside paygate (Stripe's Dashboard)
arrives as the provider's event and is recorded the same way.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from payment_ms.events.outbox import record_event
from payment_ms.metrics import TRANSITIONS
from payment_ms.payments import repositories as repo
from payment_ms.payments.mapping import to_contract
from payment_ms.payments.state import transition
from payment_ms.providers.base import ProviderRefund
from shared.contracts import EventType, PaymentStatus

logger = logging.getLogger("payment_ms.refunds")


async def _announce(
    conn: AsyncConnection, row: RowMapping, changes: dict[str, Any], event: EventType
) -> RowMapping:
    updated = await repo.update_payment(conn, row["id"], changes)
    await record_event(conn, to_contract(updated), event)
    TRANSITIONS.labels(event).inc()
    return updated


async def _settle(conn: AsyncConnection, row: RowMapping, amount: int, *, was_pending: bool) -> RowMapping:
    """``amount`` is refunded now: into ``refunded_amount``, and the payment moves (payment.refunded)."""
    refunded = row["refunded_amount"] + amount
    changes: dict[str, Any] = {"refunded_amount": refunded}
    if was_pending:
        changes["pending_refund_amount"] = row["pending_refund_amount"] - amount
    target: PaymentStatus = "refunded" if refunded == row["captured_amount"] else "partially_refunded"
    return await transition(conn, row, target, changes, strict=True)


async def record_new_refund(
    conn: AsyncConnection, row: RowMapping, answer: ProviderRefund, *, reason: str | None
) -> RowMapping:
    """A refund paygate just asked for, as the provider answered it (pending or succeeded)."""
    await repo.add_refund(
        conn,
        payment_id=row["id"],
        amount=answer.amount,
        provider_refund_id=answer.refund_id,
        reason=reason,
        status=answer.status,
        failure_reason=answer.failure_reason,
    )
    if answer.status == "pending":
        changes = {"pending_refund_amount": row["pending_refund_amount"] + answer.amount}
        return await _announce(conn, row, changes, "payment.refund_pending")
    return await _settle(conn, row, answer.amount, was_pending=False)


def _fits(row: RowMapping, amount: int) -> bool:
    return row["refunded_amount"] + row["pending_refund_amount"] + amount <= row["captured_amount"]


async def apply_refund(conn: AsyncConnection, row: RowMapping, fact: ProviderRefund) -> RowMapping:
    """What the provider reports about one of its refunds (ours or one made outside paygate), forward
    only: a duplicate, an older state arriving late or a refund of a payment not captured changes nothing."""
    if fact.refund_id is None or row["status"] not in ("succeeded", "partially_refunded", "refunded"):
        return row
    known = await repo.lock_refund(conn, fact.refund_id)
    if known is None:  # made outside paygate
        if fact.status == "failed":
            await repo.add_refund(
                conn,
                payment_id=row["id"],
                amount=fact.amount,
                provider_refund_id=fact.refund_id,
                reason="made at the provider",
                status="failed",
                failure_reason=fact.failure_reason,
            )
            return row
        if not _fits(row, fact.amount):
            logger.warning(
                "refund %s of payment %s exceeds what was captured; ignored", fact.refund_id, row["id"]
            )
            return row
        return await record_new_refund(conn, row, fact, reason="made at the provider")
    if known["payment_id"] != row["id"] or known["status"] != "pending" or fact.status == "pending":
        return row  # settled already (never back), or no news
    await repo.update_refund(
        conn, known["id"], {"status": fact.status, "failure_reason": fact.failure_reason}
    )
    if fact.status == "succeeded":
        return await _settle(conn, row, known["amount"], was_pending=True)
    changes = {"pending_refund_amount": row["pending_refund_amount"] - known["amount"]}
    return await _announce(conn, row, changes, "payment.refund_failed")
