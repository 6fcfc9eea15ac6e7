"""Disputes (chargebacks) the provider reports, recorded on a LOCKED payment row: its id, status,
amount and reason. The first news of a dispute is ``payment.disputed``; reaching a final status
(won, lost, prevented, warning_closed) is ``payment.dispute_closed``. Forward only: a closed dispute
stays closed whatever arrives late. The payment's own status does not move (the money was captured)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from payment_ms.events.outbox import record_event
from payment_ms.metrics import TRANSITIONS
from payment_ms.payments import repositories as repo
from payment_ms.payments.mapping import to_contract
from shared.contracts import DISPUTE_STATUSES, EventType

FINAL = frozenset({"won", "lost", "prevented", "warning_closed"})


@dataclass(frozen=True, slots=True)
class DisputeFact:
    dispute_id: str
    status: str
    amount: int  # ISO minor units
    reason: str


async def apply_dispute(conn: AsyncConnection, row: RowMapping, fact: DisputeFact) -> RowMapping:
    if fact.status not in DISPUTE_STATUSES:
        return row
    same = row["dispute_id"] == fact.dispute_id
    if same and (row["dispute_status"] in FINAL or row["dispute_status"] == fact.status):
        return row
    events: list[EventType] = [] if same else ["payment.disputed"]
    if fact.status in FINAL:
        events.append("payment.dispute_closed")
    updated = await repo.update_payment(
        conn,
        row["id"],
        {
            "dispute_id": fact.dispute_id,
            "dispute_status": fact.status,
            "dispute_amount": fact.amount,
            "dispute_reason": fact.reason[:64],
        },
    )
    payment = to_contract(updated)
    for event in events:
        await record_event(conn, payment, event)
        TRANSITIONS.labels(event).inc()
    return updated
