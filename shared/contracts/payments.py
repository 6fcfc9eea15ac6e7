"""Payments as they cross between the services: the create body, the payment answers, commands'
bodies, and Stripe's webhook receipt."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar.params import HeaderParameter

from shared.contracts.types import (
    CaptureMethod,
    CurrencyCode,
    Description,
    DisputeStatus,
    Email,
    Metadata,
    Name,
    PaymentStatus,
    PositiveAmount,
    ProviderName,
    Url,
)


class PaymentCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``POST /api/payments`` (the gateway fills amount and currency from the reservation)."""

    reservation_id: UUID
    user_id: UUID
    amount: PositiveAmount
    currency: CurrencyCode
    description: Description = ""
    payer_email: Email | None = None
    payer_name: Name | None = None
    return_url: Url | None = None
    cancel_url: Url | None = None
    metadata: Metadata = msgspec.field(default_factory=dict)
    provider: ProviderName | None = None
    capture_method: CaptureMethod = "automatic"


class PaymentDispute(msgspec.Struct, kw_only=True):
    """A chargeback the provider reported (Stripe's ``charge.dispute.*``); amount in ISO minor units."""

    id: str
    status: DisputeStatus
    amount: int
    reason: str


class PublicPayment(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A payment as partners see it in webhooks (``shared.events``): what was paid, by which provider,
    and where it stands now. No checkout or redirect URLs, no metadata, no operator names."""

    id: UUID
    reservation_id: UUID
    user_id: UUID
    amount: int
    currency: str
    status: PaymentStatus
    provider: ProviderName
    capture_method: CaptureMethod
    captured_amount: int
    refunded_amount: int
    description: str
    failure_reason: str | None
    confirmed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    # Refunds the provider has accepted but not finished (Stripe ``pending``/``requires_action``): not in
    # ``refunded_amount`` until they succeed, and not refundable again meanwhile.
    pending_refund_amount: int = 0
    # Manual capture: when the hold was placed (reconciliation releases it after the window).
    authorized_at: datetime | None = None
    dispute: PaymentDispute | None = None
    # Only for partners registered with payer details on (``payer_details``); absent otherwise.
    payer_email: str | msgspec.UnsetType | None = msgspec.UNSET
    payer_name: str | msgspec.UnsetType | None = msgspec.UNSET


class Payment(PublicPayment, kw_only=True, omit_defaults=False):
    """A payment as payment_ms answers it: the public shape and what only the gateway may see."""

    payer_email: str | None
    payer_name: str | None
    checkout_url: str | None
    return_url: str | None
    cancel_url: str | None
    metadata: dict[str, Any]
    confirmed_by: str | None


class PaymentList(msgspec.Struct, kw_only=True):
    """``GET /api/payments``: newest first; pass ``next_cursor`` back as ``cursor`` for the next page."""

    items: list[Payment]
    next_cursor: str | None


class DailyPaymentStat(msgspec.Struct, kw_only=True):
    day: str  # YYYY-MM-DD, UTC
    provider: ProviderName
    status: PaymentStatus
    currency: str
    count: int
    amount: int  # sum of amounts, minor units of ``currency``


class DailyPaymentStats(msgspec.Struct, kw_only=True):
    """``GET /api/payments/stats/daily``: per UTC day, provider, status and currency."""

    day_from: str
    day_to: str
    items: list[DailyPaymentStat]


class RefundCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``POST /api/payments/{id}/refunds``: no amount refunds what is left."""

    amount: PositiveAmount | None = None
    reason: Description | None = None


class CaptureCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``POST /api/payments/{id}/capture``: no amount captures the whole authorization; a smaller one
    captures that much and releases the rest (never more than was authorized)."""

    amount: PositiveAmount | None = None


class CashConfirmation(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    confirmed_by: Name


# Stripe's signature header, on payment_ms's webhook and the gateway's passthrough: required (a request
# without one is a 400); one that does not verify is a 401 (it is the request's authentication).
StripeSignature = Annotated[
    str,
    HeaderParameter(
        name="Stripe-Signature",
        description="`t=<unix seconds>,v1=<hex HMAC-SHA256>`, as Stripe signs",
        max_length=4096,
    ),
]


class StripeWebhookReceipt(msgspec.Struct, kw_only=True):
    """payment_ms's answer to a Stripe event with a valid signature (the gateway relays it)."""

    received: bool
    duplicate: bool  # the event id was processed before: nothing changed
