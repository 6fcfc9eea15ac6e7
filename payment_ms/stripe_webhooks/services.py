"""Applying a verified Stripe event: dedupe on its id and change the payment, in one transaction."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncEngine

from payment_ms.payments import repositories as repo
from payment_ms.payments.services import apply_outcome
from payment_ms.providers.stripe import outcome_from_session
from payment_ms.stripe_webhooks import repositories as stripe_repo
from shared.jsonbody import check_json_depth
from shared.problems import BadRequestError

logger = logging.getLogger("payment_ms.stripe")

SESSION_EVENTS = frozenset(
    {
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
        "checkout.session.async_payment_failed",
        "checkout.session.expired",
    }
)


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
        raise BadRequestError("not a Stripe event")
    return event


async def handle_event(engine: AsyncEngine, payload: bytes) -> bool:
    """Returns False for a duplicate (already processed) event id; unknown types are recorded and ignored."""
    event = parse_event(payload)
    async with engine.begin() as conn:
        if not await stripe_repo.record_event_id(conn, event.id, event.type):
            return False
        if event.type not in SESSION_EVENTS:
            return True
        session = event.data.get("object")
        if not isinstance(session, dict) or not isinstance(session.get("id"), str):
            raise BadRequestError("the event carries no checkout session")
        row = await repo.find_by_session(conn, "stripe", session["id"])
        if row is None:
            logger.info("stripe event %s for an unknown session, ignored", event.id)
            return True
        outcome = outcome_from_session(session, row["capture_method"])
        if event.type == "checkout.session.async_payment_failed":
            outcome = type(outcome)(
                "failed", outcome.provider_status, outcome.provider_payment_id, "the payment failed at stripe"
            )
        await apply_outcome(conn, row, outcome)
    return True
