"""What the payer's buttons do: record the choice as the mock provider's own state (``provider_status``).

The payment's status does not move here: verify (or the dispatcher's reconciliation) reads the choice,
as it would ask a real provider.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncEngine

from payment_ms.payments import repositories as repo
from payment_ms.providers import mock
from shared.problems import ConflictError, NotFoundError


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


async def record_choice(engine: AsyncEngine, payment_id: uuid.UUID, choice: str) -> PayerResult:
    async with engine.begin() as conn:
        row = await repo.lock_payment(conn, payment_id)
        if row is None or row["provider"] != "mock":
            raise NotFoundError("no such checkout")
        if not is_open(row):
            raise ConflictError("this checkout is no longer open")
        provider_status = mock.payer_choice(row["metadata"], choice)
        await repo.update_payment(conn, payment_id, {"provider_status": provider_status})
    redirect = row["cancel_url"] if choice == "abandon" else row["return_url"]
    return PayerResult(provider_status, redirect)
