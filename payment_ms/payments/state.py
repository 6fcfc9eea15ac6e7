"""Applying the state machine to a LOCKED payment row: the only place a payment's status changes and
its events are written (in the caller's transaction)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import RowMapping, func
from sqlalchemy.ext.asyncio import AsyncConnection

from payment_ms.events.outbox import record_event
from payment_ms.metrics import TRANSITIONS
from payment_ms.payments import repositories as repo
from payment_ms.payments.mapping import to_contract
from payment_ms.payments.transitions import SETTLED, event_for, events_for
from payment_ms.providers.base import Outcome
from shared.contracts import PaymentStatus
from shared.problems import ConflictError


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
    event_types = events_for(row["status"], target)
    if not event_types:
        if strict:
            raise ConflictError(
                f"a {row['status']} payment cannot become {target}",
                extra={"payment_status": row["status"]},
            )
        return row
    values: dict[str, Any] = {"status": target, **(changes or {})}
    if target == "authorized":
        values["authorized_at"] = func.now()
    updated = await repo.update_payment(conn, row["id"], values)
    payment = to_contract(updated)
    for event_type in event_types:
        await record_event(conn, payment, event_type)
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
        changes["captured_amount"] = outcome.captured_amount or row["amount"]
    if outcome.failure_reason and outcome.status in ("failed", "canceled"):
        changes["failure_reason"] = outcome.failure_reason[:500]
    return await transition(conn, row, outcome.status, changes, strict=False)
