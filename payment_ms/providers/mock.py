"""The mock provider: a hosted checkout page served by payment_ms itself.

The page (``{PAYMENT_MS_PUBLIC_BASE_URL}/checkout/mock/{session token}``, see ``mock_sessions``) records
the payer's choice in ``payments.provider_status`` (``open`` → ``approved`` | ``declined`` |
``abandoned``), playing the provider's own records, and then the mock sends its own provider event (as
Stripe sends ``checkout.session.completed``) through the same intake as Stripe's webhooks, after
``PAYMENT_MS_MOCK_EVENT_DELAY_SECONDS`` (0: at once, before the payer is redirected). Verify reads the
same records: approved → succeeded (or authorized with manual capture), declined → failed, abandoned →
canceled, still open → pending, open past the link's expiry (``PAYMENT_MS_MOCK_CHECKOUT_TTL_SECONDS``)
→ canceled.

Failure modes, chosen per payment without code changes through ``metadata.mock_behavior``:
- ``decline``: the payer's "approve" is declined (as a refused card would be);
- ``drop_event``: the provider event is lost (a webhook that never arrives): the payment stays
  pending until verify or the dispatcher's reconciliation asks;
- ``provider_error``: every provider call fails with 503 (nothing is written);
- ``slow``: every provider call first stalls ``PAYMENT_MS_MOCK_SLOW_SECONDS``; above
  ``PAYMENT_MS_PROVIDER_TIMEOUT_SECONDS`` it fails with 504.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import RowMapping

from payment_ms.providers import mock_sessions
from payment_ms.providers.base import (
    CheckoutSession,
    Outcome,
    Provider,
    ProviderRefund,
    ProviderRefusedError,
    ProviderUnavailableError,
)
from shared.contracts import PaymentCreate, PaymentStatus

BEHAVIOR_KEY = "mock_behavior"
OPEN = "open"
APPROVED = "approved"
DECLINED = "declined"
ABANDONED = "abandoned"
EXPIRED = "expired"
CAPTURED = "captured"
RELEASED = "released"


CHECKOUT_PREFIX = "/checkout/mock"


def checkout_path(token: str) -> str:
    return f"{CHECKOUT_PREFIX}/{token}"


def session_of(payment: RowMapping, *, secret: str) -> mock_sessions.MockSession | None:
    """The checkout session a mock payment's ``checkout_url`` carries (None for one without)."""
    url = payment["checkout_url"] or ""
    try:
        return mock_sessions.read(url.rsplit("/", 1)[-1], secret=secret)
    except mock_sessions.InvalidSessionTokenError:
        return None


def drops_events(metadata: Mapping[str, Any]) -> bool:
    return metadata.get(BEHAVIOR_KEY) == "drop_event"


def outcome_for(payment: RowMapping) -> Outcome:
    """What the mock's own records (``provider_status``) say the payment is."""
    state = payment["provider_status"]
    if state == APPROVED:
        status: PaymentStatus = "authorized" if payment["capture_method"] == "manual" else "succeeded"
        return Outcome(status, state, provider_payment_id=f"mock_pi_{payment['id'].hex}")
    if state == CAPTURED:
        return Outcome("succeeded", state)
    if state == DECLINED:
        return Outcome("failed", state, failure_reason="card_declined: the mock payer's card was declined")
    if state in (ABANDONED, EXPIRED, RELEASED):
        return Outcome("canceled", state, failure_reason="the payer abandoned the checkout")
    return Outcome("pending", state)


def payer_choice(metadata: Mapping[str, Any], choice: str) -> str:
    """The provider status the page records for the payer's button (``decline`` mode refuses approvals)."""
    if choice == "approve":
        return DECLINED if metadata.get(BEHAVIOR_KEY) == "decline" else APPROVED
    return {"decline": DECLINED, "abandon": ABANDONED}[choice]


class MockProvider(Provider):
    name = "mock"
    remote = False

    @property
    def _session_secret(self) -> str:
        return self.settings.paygate.service_token.get_secret_value()

    async def _behave(self, metadata: Mapping[str, Any]) -> None:
        behavior = metadata.get(BEHAVIOR_KEY)
        if behavior == "slow":
            await asyncio.sleep(
                self.settings.mock_slow_seconds
            )  # simulating a slow provider, not waiting on state
        elif behavior == "provider_error":
            raise ProviderUnavailableError("the mock provider failed (mock_behavior=provider_error)")

    async def create_checkout(self, payment_id: uuid.UUID, data: PaymentCreate) -> CheckoutSession:
        await self._behave(data.metadata)
        expires_at = datetime.now(UTC) + timedelta(seconds=self.settings.mock_checkout_ttl_seconds)
        token = mock_sessions.issue(payment_id, expires_at, secret=self._session_secret)
        url = self.settings.public_base_url.rstrip("/") + checkout_path(token)
        return CheckoutSession(session_id=f"mock_cs_{payment_id.hex}", checkout_url=url, provider_status=OPEN)

    async def fetch_outcome(self, payment: RowMapping) -> Outcome:
        await self._behave(payment["metadata"])
        state = payment["provider_status"]
        session = session_of(payment, secret=self._session_secret)
        if state == OPEN and session is not None and session.expired():
            return Outcome("canceled", EXPIRED, failure_reason="the mock checkout expired unpaid")
        return outcome_for(payment)

    async def cancel(self, payment: RowMapping, idempotency_key: str) -> str | None:
        await self._behave(payment["metadata"])
        if payment["status"] == "authorized":
            return RELEASED
        if payment["provider_status"] in (APPROVED, DECLINED):
            raise ProviderRefusedError("the payer already completed this checkout; verify the payment")
        return EXPIRED

    async def capture(self, payment: RowMapping, amount: int, idempotency_key: str) -> str | None:
        await self._behave(payment["metadata"])
        return CAPTURED

    async def refund(self, payment: RowMapping, amount: int, idempotency_key: str) -> ProviderRefund:
        await self._behave(payment["metadata"])
        return ProviderRefund(refund_id=f"mock_re_{uuid.uuid4().hex}", status="succeeded", amount=amount)
