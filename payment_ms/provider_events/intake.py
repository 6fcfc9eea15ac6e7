"""Every provider event goes through ``accept``: dedupe on the provider's event id, find and lock the
payment it is about, and apply what it says (the payment's outcome, its refunds, its dispute) through
the state machine, all in ONE transaction with the dedupe row and the outbox events. Forward only: a
duplicate, or an older state arriving after a newer one, changes nothing.

Providers translate their own events into a ``ProviderEvent`` (``stripe_webhooks.services`` for
Stripe, ``checkout_page.services`` for the mock) and never write payments themselves.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from payment_ms.events.source import acting_as
from payment_ms.payments import repositories as repo
from payment_ms.payments.disputes import DisputeFact, apply_dispute
from payment_ms.payments.refunds import apply_refund
from payment_ms.payments.state import apply_outcome
from payment_ms.provider_events import repositories as events_repo
from payment_ms.providers.base import Outcome, ProviderRefund

logger = logging.getLogger("payment_ms.provider_events")


@dataclass(frozen=True, slots=True)
class PaymentReference:
    """How the event names its payment: ours (metadata), the checkout session, the payment intent."""

    payment_id: uuid.UUID | None = None
    session_id: str | None = None
    intent_id: str | None = None


@dataclass(frozen=True, slots=True)
class ProviderEvent:
    provider: str
    event_id: str
    type: str
    payment: PaymentReference
    outcome: Outcome | None = None
    refunds: tuple[ProviderRefund, ...] = ()
    dispute: DisputeFact | None = None


async def already_seen(engine: AsyncEngine, provider: str, event_id: str) -> bool:
    async with engine.connect() as conn:
        return await events_repo.provider_event_seen(conn, provider, event_id)


async def accept(engine: AsyncEngine, event: ProviderEvent) -> bool:
    """Apply ``event``; False when it was processed before. An event about no payment we know is
    recorded and ignored (another system's, or one whose create never finished). Its events come
    from the provider."""
    with acting_as("provider"):
        return await _accept(engine, event)


async def _accept(engine: AsyncEngine, event: ProviderEvent) -> bool:
    async with engine.begin() as conn:
        if not await events_repo.record_provider_event(conn, event.provider, event.event_id, event.type):
            return False
        row = await repo.lock_by_reference(
            conn,
            event.provider,
            payment_id=event.payment.payment_id,
            session_id=event.payment.session_id,
            intent_id=event.payment.intent_id,
        )
        if row is None:
            logger.info(
                "%s event %s (%s) names no known payment, ignored", event.provider, event.event_id, event.type
            )
            return True
        if event.outcome is not None:
            row = await apply_outcome(conn, row, event.outcome)
        for refund in event.refunds:
            row = await apply_refund(conn, row, refund)
        if event.dispute is not None:
            row = await apply_dispute(conn, row, event.dispute)
    return True
