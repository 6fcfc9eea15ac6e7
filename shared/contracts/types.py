"""The contract's vocabularies and constrained scalar types: statuses, event types, text patterns,
amounts, currencies, URLs and metadata."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, get_args

import msgspec

from shared.money import CURRENCY_EXPONENTS

MAX_DESCRIPTION = 500
MAX_URL = 2048
BIGINT_MAX = 2**63 - 1  # amounts are BIGINT columns: a larger one is refused, not an overflow

PaymentStatus = Literal[
    "pending", "processing", "authorized", "succeeded", "failed", "canceled", "partially_refunded", "refunded"
]
ProviderName = Literal["mock", "stripe", "cash"]
CaptureMethod = Literal["automatic", "manual"]
# Every event type, in ONE place: the outbox's database check, the partners' subscriptions, the CLI and
# the docs all read this Literal (``EVENT_TYPES`` is its values, in this order).
EventType = Literal[
    "payment.created",
    "payment.processing",
    "payment.authorized",
    "payment.captured",
    "payment.succeeded",
    "payment.failed",
    "payment.canceled",
    "payment.refund_pending",
    "payment.refunded",
    "payment.refund_failed",
    "payment.disputed",
    "payment.dispute_closed",
]
EVENT_TYPES: tuple[str, ...] = get_args(EventType)
# What made an event happen (``payment_events.source``): the payer's checkout, verify or cancel; a
# provider's event (Stripe's webhooks, the mock checkout's own); an operator's command; reconciliation
# asking the provider about a stuck payment; an operator confirming cash; an authorization released
# because its window expired. NULL for events recorded before the column existed.
EventSource = Literal["payer", "provider", "operator", "reconciliation", "cash_confirmation", "expiry"]
EVENT_SOURCES: tuple[str, ...] = get_args(EventSource)
# Who asks payment_ms to verify or cancel (the gateway's payer routes, or an admin): ``Paygate-Actor``.
Actor = Literal["payer", "operator"]
ACTOR_HEADER = "Paygate-Actor"
DisputeStatus = Literal[
    "warning_needs_response",
    "warning_under_review",
    "warning_closed",
    "needs_response",
    "under_review",
    "won",
    "lost",
    "prevented",
]
DISPUTE_STATUSES: tuple[str, ...] = get_args(DisputeStatus)
RefundStatus = Literal["pending", "succeeded", "failed"]
REFUND_STATUSES: tuple[str, ...] = get_args(RefundStatus)

# Text that reaches PostgreSQL must not carry control characters: NUL is refused by TEXT and JSONB
# (a 500 if it got that far), and the others have no business in names, addresses or keys. Free text
# (descriptions, reasons, metadata values) may keep tab, line feed and carriage return.
# ``(?![\s\S])`` is the end of the string in both Python and ECMAScript (OpenAPI) regexes; ``$`` would
# also match before a trailing new line.
_END = r"(?![\s\S])"
SINGLE_LINE_PATTERN = r"^[^\x00-\x1f\x7f]*" + _END
TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*" + _END
# Absolute http(s) URLs without whitespace or control characters: the payer is redirected there.
HTTP_URL_PATTERN = r"^[hH][tT][tT][pP][sS]?://[^\x00-\x20\x7f]+" + _END
EMAIL_PATTERN = r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+" + _END
MAX_METADATA_KEYS = 50
MAX_METADATA_KEY = 40
MAX_METADATA_VALUE = 500  # Stripe's metadata limits: 50 keys, 40-character keys, 500-character values

PositiveAmount = Annotated[
    int, msgspec.Meta(gt=0, le=BIGINT_MAX, description="Integer minor units (cents, yen…)")
]
# Exactly the ISO 4217 codes that are money (the document lists what is accepted, not just its shape).
CURRENCY_PATTERN = "^(" + "|".join(sorted(CURRENCY_EXPONENTS)) + ")" + _END
CurrencyCode = Annotated[
    str, msgspec.Meta(pattern=CURRENCY_PATTERN, description="ISO 4217 code of a currency, e.g. EUR")
]
Url = Annotated[
    str,
    msgspec.Meta(
        min_length=1, max_length=MAX_URL, pattern=HTTP_URL_PATTERN, description="Absolute http(s) URL"
    ),
]
Description = Annotated[str, msgspec.Meta(max_length=MAX_DESCRIPTION, pattern=TEXT_PATTERN)]
Email = Annotated[str, msgspec.Meta(max_length=320, pattern=EMAIL_PATTERN)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=SINGLE_LINE_PATTERN)]
MetadataKey = Annotated[str, msgspec.Meta(max_length=MAX_METADATA_KEY, pattern=SINGLE_LINE_PATTERN)]
MetadataValue = (
    Annotated[str, msgspec.Meta(max_length=MAX_METADATA_VALUE, pattern=TEXT_PATTERN)]
    | Annotated[int, msgspec.Meta(ge=-BIGINT_MAX - 1, le=BIGINT_MAX)]
    | bool
    | None
)
Metadata = Annotated[dict[MetadataKey, MetadataValue], msgspec.Meta(max_length=MAX_METADATA_KEYS)]
# A Standard Webhooks signing secret: whsec_ and the base64 of its key (15 bytes or more).
WEBHOOK_SECRET_PATTERN = r"^whsec_([A-Za-z0-9+/]{4}){5,}([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?" + _END
WebhookSecret = Annotated[str, msgspec.Meta(max_length=200, pattern=WEBHOOK_SECRET_PATTERN)]
# An RFC 3339 date-time with its offset, as a request field (documented ``format: date-time``; a naive
# one would be ambiguous and is refused).
Moment = Annotated[datetime, msgspec.Meta(tz=True)]
