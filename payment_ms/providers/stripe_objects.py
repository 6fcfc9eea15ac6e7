"""Stripe's wire format, without a network call: its currency decimals (``to_stripe_amount``: ISK x100,
MGA /100, or refused with 422), its nested form encoding, and its PaymentIntent, Checkout Session and
Refund objects read as our outcomes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from payment_ms.providers.base import (
    Outcome,
    ProviderRefund,
)
from shared.contracts import PaymentStatus, RefundStatus
from shared.money import CURRENCY_EXPONENTS
from shared.problems import InvalidInputError

# Where Stripe's API decimals differ from ISO 4217 (docs.stripe.com/currencies, "Zero-decimal",
# "Three-decimal" and "Special cases"). Our amounts are ISO minor units; Stripe's are these.
STRIPE_ZERO_DECIMAL = frozenset(
    {
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "JPY",
        "KMF",
        "KRW",
        "MGA",
        "PYG",
        "RWF",
        "UGX",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    }
)
# Stripe takes three decimals for these but only with a last digit of 0.
STRIPE_THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})
# ISK: whole krónur only (ISO: 0 decimals), yet two decimals in Stripe's API (100 = 1 króna).
# HUF and TWD are special at Stripe for payouts only; their charges take ISO's two decimals.
STRIPE_TWO_DECIMAL_WHOLE_UNITS = frozenset({"ISK"})


def stripe_exponent(currency: str) -> int | None:
    """Decimals of ``currency`` in Stripe's API, or None where Stripe lists no rule for an ISO code
    without two decimals (IQD, LYD, CLF, UYW, UYI…): better refused than charged 10x or 100x."""
    if currency in STRIPE_ZERO_DECIMAL:
        return 0
    if currency in STRIPE_THREE_DECIMAL:
        return 3
    if currency in STRIPE_TWO_DECIMAL_WHOLE_UNITS:
        return 2
    return 2 if CURRENCY_EXPONENTS.get(currency) == 2 else None


def to_stripe_amount(currency: str, amount: int) -> int:
    """ISO minor units → Stripe's amount for ``currency``; 422 where no exact conversion exists."""
    exponent = stripe_exponent(currency)
    if exponent is None:
        raise InvalidInputError(
            f"the stripe provider does not take {currency} payments", extra={"field": "currency"}
        )
    shift = exponent - CURRENCY_EXPONENTS[currency]
    if shift >= 0:
        converted = amount * 10**shift
    else:  # MGA: two decimals in ISO 4217, whole ariary at Stripe
        converted, rest = divmod(amount, 10**-shift)
        if rest:
            raise InvalidInputError(
                f"stripe takes {currency} in whole units: the amount must be a multiple of {10**-shift}",
                extra={"field": "amount"},
            )
    if currency in STRIPE_THREE_DECIMAL and converted % 10:
        raise InvalidInputError(
            f"stripe takes {currency} amounts in multiples of 10 minor units", extra={"field": "amount"}
        )
    return converted


def form_encode(params: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Stripe's nested form encoding: ``line_items[0][price_data][currency]=eur``."""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if value is None:
            continue
        if isinstance(value, Mapping):
            pairs += form_encode(value, name)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, Mapping):
                    pairs += form_encode(item, f"{name}[{index}]")
                else:
                    pairs.append((f"{name}[{index}]", _scalar(item)))
        else:
            pairs.append((name, _scalar(value)))
    return pairs


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def from_stripe_amount(currency: str, amount: int) -> int:
    """Stripe's amount for ``currency`` → ISO minor units (what refunds and disputes report)."""
    exponent = stripe_exponent(currency.upper())
    if exponent is None:
        return amount
    shift = exponent - CURRENCY_EXPONENTS[currency.upper()]
    return amount // 10**shift if shift >= 0 else amount * 10**-shift


REFUND_STATUSES: dict[str, RefundStatus] = {
    "pending": "pending",
    "requires_action": "pending",
    "succeeded": "succeeded",
    "failed": "failed",
    "canceled": "failed",
}


def refund_from_object(refund: Mapping[str, Any]) -> ProviderRefund:
    """A Stripe Refund object (``/v1/refunds``, ``refund.*`` and ``charge.refund.updated`` events)."""
    status = REFUND_STATUSES.get(str(refund.get("status")), "pending")
    reason = refund.get("failure_reason") if status == "failed" else None
    return ProviderRefund(
        refund_id=refund.get("id"),
        status=status,
        amount=from_stripe_amount(str(refund.get("currency") or "eur"), int(refund.get("amount") or 0)),
        failure_reason=str(reason)[:500] if reason else None,
    )


def outcome_from_intent(intent: Mapping[str, Any]) -> Outcome | None:
    """Our status for a PaymentIntent event's object, or None when it says nothing final (a payer's
    failed attempt in an open Checkout leaves the intent ``requires_payment_method``: they may retry)."""
    status = intent.get("status")
    provider_status = f"intent/{status}"[:32]
    currency = str(intent.get("currency") or "eur")
    if status == "succeeded":
        received = from_stripe_amount(currency, int(intent.get("amount_received") or 0))
        return Outcome(
            "succeeded",
            provider_status,
            provider_payment_id=intent.get("id"),
            captured_amount=received or None,
        )
    if status == "requires_capture":
        return Outcome("authorized", provider_status, provider_payment_id=intent.get("id"))
    if status == "processing":
        return Outcome("processing", provider_status, provider_payment_id=intent.get("id"))
    if status == "canceled":
        reason = intent.get("cancellation_reason") or "canceled"
        return Outcome(
            "canceled",
            provider_status,
            provider_payment_id=intent.get("id"),
            failure_reason=f"the payment intent was canceled at stripe ({reason})",
        )
    return None


def outcome_from_session(session: Mapping[str, Any], capture_method: str) -> Outcome:
    """Our status for a Checkout Session (optionally with ``payment_intent`` expanded)."""
    status = session.get("status")
    payment_status = session.get("payment_status")
    intent = session.get("payment_intent")
    intent_id = intent.get("id") if isinstance(intent, Mapping) else intent
    intent_status = intent.get("status") if isinstance(intent, Mapping) else None
    provider_status = f"{status}/{payment_status}"[:32]
    ours: PaymentStatus
    reason = None
    if status == "expired":
        ours, reason = "canceled", "the checkout session expired"
    elif status != "complete":
        ours = "pending"
    elif payment_status in ("paid", "no_payment_required"):
        ours = "succeeded"
    elif intent_status == "requires_capture" or (intent_status is None and capture_method == "manual"):
        ours = "authorized"
    elif intent_status == "canceled":
        ours, reason = "canceled", "the payment was canceled at stripe"
    else:
        ours = "processing"  # an asynchronous payment method is still settling
    return Outcome(ours, provider_status, provider_payment_id=intent_id, failure_reason=reason)
