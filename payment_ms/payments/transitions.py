"""The payment state machine, in one table: which (from, to) moves exist and the event each one writes.

``pending → succeeded | failed | authorized`` are allowed directly: a card payment's outcome is known the
moment the payer finishes, ``processing`` is for payment methods that settle later (Stripe's
asynchronous methods). Anything not in the table is refused (409) and changes nothing.
"""

from __future__ import annotations

from typing import Final

from shared.contracts import EventType

TRANSITIONS: Final[dict[tuple[str, str], EventType]] = {
    ("pending", "processing"): "payment.processing",
    ("pending", "authorized"): "payment.authorized",
    ("pending", "succeeded"): "payment.succeeded",
    ("pending", "failed"): "payment.failed",
    ("pending", "canceled"): "payment.canceled",
    ("processing", "authorized"): "payment.authorized",
    ("processing", "succeeded"): "payment.succeeded",
    ("processing", "failed"): "payment.failed",
    ("processing", "canceled"): "payment.canceled",
    # manual capture: captured, or released
    ("authorized", "succeeded"): "payment.captured",
    ("authorized", "canceled"): "payment.canceled",
    # refunds; a further partial refund stays partially_refunded and still writes its event
    ("succeeded", "partially_refunded"): "payment.refunded",
    ("succeeded", "refunded"): "payment.refunded",
    ("partially_refunded", "partially_refunded"): "payment.refunded",
    ("partially_refunded", "refunded"): "payment.refunded",
}

# Moves that announce a second event after the first: a capture is also the payment's success, so a
# partner subscribed only to ``payment.succeeded`` hears of an escrow that was captured.
FOLLOW_UP_EVENTS: Final[dict[tuple[str, str], EventType]] = {("authorized", "succeeded"): "payment.succeeded"}

# Where the provider has nothing more to say: verify answers these unchanged.
SETTLED: Final[frozenset[str]] = frozenset(
    {"succeeded", "failed", "canceled", "partially_refunded", "refunded"}
)


def event_for(current: str, target: str) -> EventType | None:
    """The event of the move ``current → target``, or None when the machine forbids it."""
    return TRANSITIONS.get((current, target))


def events_for(current: str, target: str) -> tuple[EventType, ...]:
    """Every event the move writes, in order (empty when the machine forbids it)."""
    first = TRANSITIONS.get((current, target))
    if first is None:
        return ()
    follow_up = FOLLOW_UP_EVENTS.get((current, target))
    return (first,) if follow_up is None else (first, follow_up)
