"""Cash: no redirect and nothing to ask; the payment stays pending until staff confirm it
(``POST /api/payments/{id}/confirm-cash``), which is the capture."""

from __future__ import annotations

import uuid

from sqlalchemy import RowMapping

from payment_ms.providers.base import (
    CheckoutSession,
    Outcome,
    Provider,
    ProviderRefund,
    ProviderRefusedError,
)
from shared.contracts import PaymentCreate

AWAITING = "awaiting_cash"
CONFIRMED = "confirmed"
VOIDED = "voided"


class CashProvider(Provider):
    name = "cash"
    remote = False

    async def create_checkout(self, payment_id: uuid.UUID, data: PaymentCreate) -> CheckoutSession:
        return CheckoutSession(session_id=None, checkout_url=None, provider_status=AWAITING)

    async def fetch_outcome(self, payment: RowMapping) -> Outcome:
        # Only staff know; verify leaves a cash payment as it is.
        return Outcome(payment["status"], payment["provider_status"])

    async def cancel(self, payment: RowMapping, idempotency_key: str) -> str | None:
        return VOIDED

    async def capture(self, payment: RowMapping, amount: int, idempotency_key: str) -> str | None:
        raise ProviderRefusedError("cash payments are captured by confirm-cash")

    async def refund(self, payment: RowMapping, amount: int, idempotency_key: str) -> ProviderRefund:
        # handed back over the counter: done at once, no provider reference
        return ProviderRefund(refund_id=None, status="succeeded", amount=amount)
