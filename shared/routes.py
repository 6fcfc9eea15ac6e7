"""payment_ms's internal routes, declared once: its controllers mount these templates and the gateway's
client fills them (``path(PAYMENT_VERIFY, payment_id=…)``), so neither side spells a path literal.

Templates use Litestar's syntax (``{name:type}``); ``path`` drops the type when filling one in.
"""

from __future__ import annotations

import re
from urllib.parse import quote

API = "/api"
READY = "/ready"  # shared.health, on both services

PAYMENTS = f"{API}/payments"
PAYMENT_STATS_DAILY = f"{PAYMENTS}/stats/daily"
PAYMENT = PAYMENTS + "/{payment_id:uuid}"
PAYMENT_VERIFY = f"{PAYMENT}/verify"
PAYMENT_CANCEL = f"{PAYMENT}/cancel"
PAYMENT_CAPTURE = f"{PAYMENT}/capture"
PAYMENT_REFUNDS = f"{PAYMENT}/refunds"
PAYMENT_CONFIRM_CASH = f"{PAYMENT}/confirm-cash"

EVENTS = f"{API}/events"
EVENT = EVENTS + "/{event_id:uuid}"
EVENT_FEED = f"{EVENTS}/feed"
DELIVERIES = f"{API}/deliveries"
DELIVERY = DELIVERIES + "/{delivery_id:uuid}"
DELIVERY_REPLAY = f"{DELIVERY}/replay"
DELIVERIES_REPLAY = f"{DELIVERIES}/replay"
DELIVERY_STATS = f"{DELIVERIES}/stats"
PARTNER_HEALTH = f"{DELIVERIES}/health"
TEST_SENDS = f"{API}/test-sends"

STRIPE_WEBHOOK = f"{API}/providers/stripe/webhook"

_PLACEHOLDER = re.compile(r"\{(\w+)(?::\w+)?\}")


def path(template: str, **values: object) -> str:
    """The concrete path of ``template`` with every ``{name}`` filled (URL-quoted); a missing one is a
    programming error (KeyError)."""
    return _PLACEHOLDER.sub(lambda match: quote(str(values[match.group(1)]), safe=""), template)
