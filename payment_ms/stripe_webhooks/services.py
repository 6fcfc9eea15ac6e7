"""Stripe's events, translated into provider events for the one intake (``provider_events.intake``).

Handled (each object as Stripe's API reference shapes it, at the pinned ``Stripe-Version``):
- ``checkout.session.completed`` / ``.async_payment_succeeded`` / ``.async_payment_failed`` / ``.expired``;
- ``payment_intent.succeeded`` / ``.payment_failed`` / ``.canceled`` / ``.amount_capturable_updated`` /
  ``.processing`` (an authorization released or expired at Stripe cancels the payment here too);
- ``charge.refunded`` (its refunds, listed from Stripe when the event does not carry them: refunds
  made in Stripe's Dashboard reach ``refunded_amount``), ``charge.refund.updated``, ``refund.created``
  / ``.updated`` / ``.failed``: each refund ``pending`` → ``succeeded`` | ``failed``;
- ``charge.dispute.created`` / ``.updated`` / ``.closed``: the dispute recorded on the payment.
Every other type is acknowledged and recorded. A refund or dispute event about a payment paygate has
not yet seen captured asks Stripe first (the events may arrive in any order).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncEngine

from payment_ms.events.source import acting_as
from payment_ms.payments.disputes import DisputeFact
from payment_ms.payments.queries import get_payment
from payment_ms.payments.services import verify_payment
from payment_ms.provider_events.intake import PaymentReference, ProviderEvent, accept, already_seen
from payment_ms.providers.base import Outcome, ProviderRefund
from payment_ms.providers.registry import ProviderRegistry
from payment_ms.providers.stripe import StripeProvider
from payment_ms.providers.stripe_objects import (
    from_stripe_amount,
    outcome_from_intent,
    outcome_from_session,
    refund_from_object,
)
from shared.jsonbody import check_json_depth
from shared.problems import BadRequestError, NotFoundError

logger = logging.getLogger("payment_ms.stripe")

SESSION_EVENTS = frozenset(
    {
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
        "checkout.session.async_payment_failed",
        "checkout.session.expired",
    }
)
INTENT_EVENTS = frozenset(
    {
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "payment_intent.canceled",
        "payment_intent.amount_capturable_updated",
        "payment_intent.processing",
    }
)
REFUND_EVENTS = frozenset({"charge.refund.updated", "refund.created", "refund.updated", "refund.failed"})
DISPUTE_EVENTS = frozenset({"charge.dispute.created", "charge.dispute.updated", "charge.dispute.closed"})
CAPTURED = ("succeeded", "partially_refunded", "refunded")


class _Event(msgspec.Struct):
    id: str
    type: str
    data: dict[str, Any]


def parse_event(payload: bytes) -> _Event:
    check_json_depth(payload)
    try:
        event = msgspec.json.decode(payload, type=_Event)
    except (msgspec.DecodeError, msgspec.ValidationError):
        raise BadRequestError("not a Stripe event") from None
    if not 1 <= len(event.id) <= 255 or len(event.type) > 128:
        raise BadRequestError("not a Stripe event") from None
    return event


def _object(event: _Event) -> dict[str, Any]:
    obj = event.data.get("object")
    if not isinstance(obj, dict) or not isinstance(obj.get("id"), str):
        raise BadRequestError(f"the {event.type} event carries no object")
    return obj


def _id(value: object) -> str | None:
    """A reference that may be expanded (an object) or not (its id)."""
    if isinstance(value, Mapping):
        found = value.get("id")
        return found if isinstance(found, str) else None
    return value if isinstance(value, str) else None


def _our_id(obj: Mapping[str, Any]) -> uuid.UUID | None:
    metadata = obj.get("metadata")
    raw = metadata.get("payment_id") if isinstance(metadata, Mapping) else None
    raw = raw or obj.get("client_reference_id")
    try:
        return uuid.UUID(str(raw)) if raw else None
    except ValueError:
        return None


def _session_event(event: _Event, session: dict[str, Any], capture_method: str) -> ProviderEvent:
    outcome = outcome_from_session(session, capture_method)
    if event.type == "checkout.session.async_payment_failed":
        outcome = Outcome(
            "failed", outcome.provider_status, outcome.provider_payment_id, "the payment failed at stripe"
        )
    reference = PaymentReference(payment_id=_our_id(session), session_id=session["id"])
    return ProviderEvent("stripe", event.id, event.type, reference, outcome=outcome)


def _intent_outcome(event: _Event, intent: Mapping[str, Any]) -> Outcome | None:
    if event.type == "payment_intent.payment_failed":
        error = intent.get("last_payment_error")
        message = error.get("message") if isinstance(error, Mapping) else None
        if intent.get("status") == "requires_payment_method" and not _settles_async(intent):
            return None  # a declined attempt in a Checkout that is still open: the payer may try again
        return Outcome(
            "failed",
            f"intent/{intent.get('status')}"[:32],
            provider_payment_id=intent.get("id"),
            failure_reason=f"the payment failed at stripe: {message or 'declined'}",
        )
    return outcome_from_intent(intent)


def _settles_async(intent: Mapping[str, Any]) -> bool:
    """A delayed payment method (SEPA debit…) that failed after the payer completed the checkout."""
    types = intent.get("payment_method_types") or []
    return any(t not in ("card", "link") for t in types if isinstance(t, str))


def _dispute(dispute: Mapping[str, Any]) -> DisputeFact:
    currency = str(dispute.get("currency") or "eur")
    return DisputeFact(
        dispute_id=str(dispute["id"]),
        status=str(dispute.get("status") or "needs_response"),
        amount=from_stripe_amount(currency, int(dispute.get("amount") or 0)),
        reason=str(dispute.get("reason") or "general"),
    )


async def _charge_refunds(
    providers: ProviderRegistry, charge: Mapping[str, Any]
) -> tuple[ProviderRefund, ...]:
    listed = charge.get("refunds")
    if isinstance(listed, Mapping) and isinstance(listed.get("data"), list) and not listed.get("has_more"):
        return tuple(refund_from_object(r) for r in listed["data"] if isinstance(r, Mapping))
    provider = providers.get("stripe")
    assert isinstance(provider, StripeProvider)
    return tuple(await provider.charge_refunds(str(charge["id"])))


async def _translate(engine: AsyncEngine, providers: ProviderRegistry, event: _Event) -> ProviderEvent | None:
    if event.type in SESSION_EVENTS:
        session = _object(event)
        capture_method = await _capture_method(engine, _our_id(session))
        return _session_event(event, session, capture_method)
    if event.type in INTENT_EVENTS:
        intent = _object(event)
        reference = PaymentReference(payment_id=_our_id(intent), intent_id=intent["id"])
        return ProviderEvent(
            "stripe", event.id, event.type, reference, outcome=_intent_outcome(event, intent)
        )
    if event.type == "charge.refunded":
        charge = _object(event)
        reference = PaymentReference(payment_id=_our_id(charge), intent_id=_id(charge.get("payment_intent")))
        refunds = await _charge_refunds(providers, charge)
        return ProviderEvent("stripe", event.id, event.type, reference, refunds=refunds)
    if event.type in REFUND_EVENTS:
        refund = _object(event)
        reference = PaymentReference(payment_id=_our_id(refund), intent_id=_id(refund.get("payment_intent")))
        return ProviderEvent("stripe", event.id, event.type, reference, refunds=(refund_from_object(refund),))
    if event.type in DISPUTE_EVENTS:
        dispute = _object(event)
        reference = PaymentReference(intent_id=_id(dispute.get("payment_intent")))
        return ProviderEvent("stripe", event.id, event.type, reference, dispute=_dispute(dispute))
    return None


async def _capture_method(engine: AsyncEngine, payment_id: uuid.UUID | None) -> str:
    if payment_id is None:
        return "automatic"
    try:
        return (await get_payment(engine, payment_id)).capture_method
    except NotFoundError:
        return "automatic"


async def _settle_first(engine: AsyncEngine, providers: ProviderRegistry, event: ProviderEvent) -> None:
    """A refund or dispute of a payment not yet seen captured: its checkout's news is late; ask Stripe."""
    if not (event.refunds or event.dispute) or event.payment.payment_id is None:
        return
    try:
        payment = await get_payment(engine, event.payment.payment_id)
        if payment.status not in CAPTURED:
            await verify_payment(engine, providers, payment.id)
    except NotFoundError:
        return


async def handle_event(engine: AsyncEngine, providers: ProviderRegistry, payload: bytes) -> bool:
    """Returns False for a duplicate (already processed) event id; unknown types are recorded and ignored."""
    event = parse_event(payload)
    if await already_seen(engine, "stripe", event.id):
        return False
    translated = await _translate(engine, providers, event)
    if translated is None:
        translated = ProviderEvent("stripe", event.id, event.type, PaymentReference())
    with acting_as("provider"):  # what the late checkout news settles comes from the provider too
        await _settle_first(engine, providers, translated)
    return await accept(engine, translated)
