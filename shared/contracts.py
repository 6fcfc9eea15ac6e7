"""What crosses the HTTP boundary between gateway, payment_ms and the dispatcher.

msgspec Structs: Litestar validates them natively and they (de)serialise several times faster
than pydantic models, which matters on the checkout hot path. Strict types: ``true`` is not an
amount and ``10.5`` is not an integer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, get_args
from uuid import UUID

import msgspec
from litestar.params import HeaderParameter

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
CurrencyCode = Annotated[str, msgspec.Meta(pattern="^[A-Z]{3}" + _END, description="ISO 4217 code, e.g. EUR")]
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


class PartnerTarget(msgspec.Struct, kw_only=True):
    """One entry of the gateway's ``GET /internal/partners?event_type=…`` (service token only).

    ``secrets`` holds every secret that signs right now: the current one first, then every retired one
    still inside its rotation overlap. Each yields one ``v1,<sig>`` in ``webhook-signature``.
    ``enabled`` is false for a disabled partner (listed with ``include_disabled=true`` only): its waiting
    deliveries are held, not sent. ``ordered``: a payment's later event waits for its earlier one.
    ``max_requests_per_second``: the most this partner receives from one dispatcher (None: no limit).
    """

    id: UUID
    url: str
    secrets: list[str]
    payer_details: bool = False  # its webhooks carry the payer's email and name
    enabled: bool = True
    ordered: bool = False
    max_requests_per_second: int | None = None


class PartnerTargetList(msgspec.Struct, kw_only=True):
    items: list[PartnerTarget]


OperationalEventType = Literal["endpoint.disabled", "endpoint.enabled", "endpoint.secret_rotated"]


class OperationalEvent(msgspec.Struct, kw_only=True):
    """An ``endpoint.*`` event as the gateway records it (``GET /internal/operational-events``); the
    dispatcher sends ``{"type", "timestamp", "data"}`` to the operator's endpoint, ``webhook-id`` = ``id``.
    """

    id: UUID
    type: OperationalEventType
    partner_id: UUID
    data: dict[str, Any]
    created_at: datetime


class OperationalEventList(msgspec.Struct, kw_only=True):
    items: list[OperationalEvent]


class OperationalEventsProcessed(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``POST /internal/operational-events/processed``: these were sent (or given up on) and logged."""

    ids: Annotated[list[UUID], msgspec.Meta(max_length=500)]


# Stripe's signature header, on payment_ms's webhook and the gateway's passthrough. Optional to Litestar
# so that a missing one is the same 400 problem as a bad one.
StripeSignature = Annotated[
    str | None,
    HeaderParameter(
        name="Stripe-Signature",
        description="`t=<unix seconds>,v1=<hex HMAC-SHA256>`, as Stripe signs (required)",
        max_length=4096,
    ),
]


class StripeWebhookReceipt(msgspec.Struct, kw_only=True):
    """payment_ms's answer to a Stripe event with a valid signature (the gateway relays it)."""

    received: bool
    duplicate: bool  # the event id was processed before: nothing changed


# --- the events/deliveries API of payment_ms (the gateway's admin API passes them through)

DeliveryStatus = Literal["pending", "succeeded", "failed", "canceled"]


class Event(msgspec.Struct, kw_only=True):
    id: UUID
    payment_id: UUID | None  # None: a test send's example event (in no list, only behind its delivery)
    type: EventType
    sequence: int
    data: dict[str, Any] | None  # None once purged by the retention period (``purged_at``)
    request_id: str | None
    source: EventSource | None  # what made it happen; None for events older than the column
    created_at: datetime
    fanned_out_at: datetime | None
    purged_at: datetime | None


class EventList(msgspec.Struct, kw_only=True):
    items: list[Event]
    next_cursor: str | None


class Delivery(msgspec.Struct, kw_only=True):
    id: UUID
    event_id: UUID
    partner_id: UUID
    url: str
    status: DeliveryStatus
    attempt_count: int
    throttled_count: int  # attempts answered 429: they do not use up the retry schedule
    due_at: datetime
    held: Literal["ordering", "disabled"] | None  # why a pending delivery waits
    leased_by: str | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    test: bool  # a test send: written finished, never sent again
    created_at: datetime
    updated_at: datetime


class DeliveryList(msgspec.Struct, kw_only=True):
    items: list[Delivery]
    next_cursor: str | None


class Attempt(msgspec.Struct, kw_only=True):
    attempt_number: int
    started_at: datetime
    duration_ms: int
    status_code: int | None
    response_excerpt: str | None
    error: str | None
    worker: str | None


class DeliveryDetail(Delivery, kw_only=True):
    event_type: EventType
    attempts: list[Attempt]


class PartnerReplay(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``POST /api/deliveries/replay``: a partner's failed and canceled deliveries created in
    ``[since, until)`` (no ``until``: up to now), or with ``all`` every finished one (succeeded too: a
    partner that lost its own data). Pending ones are on their way and are left alone."""

    partner_id: UUID
    since: datetime
    until: datetime | None = None
    all: bool = False


class ReplayCount(msgspec.Struct, kw_only=True):
    replayed: int


class SendTestEvent(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``POST /admin/partners/{id}/test``: which example event to send (default ``payment.succeeded``)."""

    type: EventType = "payment.succeeded"


class SendTestEventRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """payment_ms's ``POST /api/test-sends`` (the gateway forwards a partner's url and secrets); the
    test delivery is stored as the partner's."""

    partner_id: UUID
    url: Url
    secrets: Annotated[list[str], msgspec.Meta(min_length=1, max_length=50)]
    type: EventType = "payment.succeeded"


class SendTestEventResult(msgspec.Struct, kw_only=True):
    """The one attempt of a test send: the same fields as a delivery attempt; ``delivery_id`` is the
    test delivery it was stored as (marked ``test``: never sent again, not in the health figures)."""

    webhook_id: str
    type: EventType
    url: str
    delivered: bool
    status_code: int | None
    duration_ms: int
    response_excerpt: str | None
    error: str | None
    delivery_id: UUID | None = None


# --- what the operator console and the partner portal read from payment_ms


class MinuteOutcomes(msgspec.Struct, kw_only=True):
    minute: datetime  # the start of one UTC minute
    succeeded: int  # attempts answered 2xx
    failed: int  # every other attempt


class DeliveryStats(msgspec.Struct, kw_only=True):
    """``GET /api/deliveries/stats``: the queue now and the attempts of the last ``minutes``."""

    pending: int  # deliveries waiting (due or scheduled)
    due: int  # of which due now
    oldest_due_seconds: float | None  # age of the oldest due delivery, None when nothing is due
    minutes: list[MinuteOutcomes]  # oldest first, only minutes with attempts


class PartnerHealth(msgspec.Struct, kw_only=True):
    partner_id: UUID
    attempts: int
    succeeded: int
    p95_ms: int | None
    last_failure_at: datetime | None
    last_failure: str | None  # the status code or the error of the last failed attempt


class PartnerHealthList(msgspec.Struct, kw_only=True):
    """``GET /api/deliveries/health``: per partner, the attempts since ``since``."""

    since: datetime
    items: list[PartnerHealth]


class FeedEvent(msgspec.Struct, kw_only=True):
    id: UUID
    type: EventType
    created_at: datetime
    data: dict[str, Any]


class EventFeed(msgspec.Struct, kw_only=True):
    """``GET /api/events/feed`` and a partner's ``GET /partner/v1/events``: oldest first after a cursor;
    ``next_cursor`` is where the next poll starts (the same cursor again when nothing new came)."""

    items: list[FeedEvent]
    next_cursor: str | None
    has_more: bool
