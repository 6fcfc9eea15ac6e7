"""What the payer's buttons do, as the mock provider's backend would: record the choice as the mock's
own state (``provider_status``), then send the mock's provider event about it through the one intake
all providers use (``provider_events.intake``), as Stripe sends ``checkout.session.completed``.

The event goes out after ``PAYMENT_MS_MOCK_EVENT_DELAY_SECONDS`` (0, the default: at once, before the
payer is redirected), or never with ``metadata.mock_behavior = "drop_event"`` (a lost webhook: verify
or the dispatcher's reconciliation reads the same state later). A delayed event that the process does
not live to send is lost the same way.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncEngine

from payment_ms.payments import repositories as repo
from payment_ms.provider_events.intake import PaymentReference, ProviderEvent, accept
from payment_ms.providers import mock
from payment_ms.settings import PaymentSettings
from shared.problems import ConflictError, NotFoundError

logger = logging.getLogger("payment_ms.mock")


@dataclass(frozen=True, slots=True)
class PayerResult:
    provider_status: str
    redirect_to: str | None


async def load_checkout(engine: AsyncEngine, payment_id: uuid.UUID) -> RowMapping:
    async with engine.connect() as conn:
        row = await repo.get_payment(conn, payment_id)
    if row is None or row["provider"] != "mock":
        raise NotFoundError("no such checkout")
    return row


def is_open(row: RowMapping) -> bool:
    return row["status"] == "pending" and row["provider_status"] == mock.OPEN


class MockEvents:
    """Sends the mock provider's events; delayed ones run as tasks this object keeps until done."""

    def __init__(self, engine: AsyncEngine, settings: PaymentSettings) -> None:
        self._engine = engine
        self._delay = settings.mock_event_delay_seconds
        self._pending: set[asyncio.Task[None]] = set()

    async def emit(self, row: RowMapping) -> None:
        if mock.drops_events(row["metadata"]):
            logger.info("mock event for payment %s dropped (mock_behavior=drop_event)", row["id"])
            return
        event = ProviderEvent(
            provider="mock",
            event_id=f"mock_evt_{uuid.uuid4().hex}",
            type=f"checkout.{row['provider_status']}",
            payment=PaymentReference(payment_id=row["id"]),
            outcome=mock.outcome_for(row),
        )
        if self._delay <= 0:
            await accept(self._engine, event)
            return
        task = asyncio.create_task(self._later(event))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _later(self, event: ProviderEvent) -> None:
        await asyncio.sleep(self._delay)  # the provider's own latency, configured; not synchronisation
        try:
            await accept(self._engine, event)
        except Exception:
            logger.exception("the mock event %s could not be applied", event.event_id)

    async def aclose(self) -> None:
        for task in list(self._pending):
            task.cancel()
        await asyncio.gather(*self._pending, return_exceptions=True)


async def record_choice(
    engine: AsyncEngine, events: MockEvents, payment_id: uuid.UUID, choice: str
) -> PayerResult:
    async with engine.begin() as conn:
        row = await repo.lock_payment(conn, payment_id)
        if row is None or row["provider"] != "mock":
            raise NotFoundError("no such checkout")
        if not is_open(row):
            raise ConflictError("this checkout is no longer open")
        provider_status = mock.payer_choice(row["metadata"], choice)
        row = await repo.update_payment(conn, payment_id, {"provider_status": provider_status})
    await events.emit(row)
    redirect = row["cancel_url"] if choice == "abandon" else row["return_url"]
    return PayerResult(provider_status, redirect)
