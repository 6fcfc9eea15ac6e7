"""The webhook event catalog: one definition per event type, and the public shape partners receive.

Everything a partner is told about events is generated from ``CATALOG``: the OpenAPI ``webhooks``
section (``shared.openapi``), the partner guide's event table in README.md (``paygate docs events``
writes it, a test fails when it differs) and the payload tests. A new event type is one
``EventDefinition`` here (and its name in ``shared.contracts.EventType``, which a test ties to this
catalog).

The body sent to a partner is never the internal payment row: ``public_body`` maps the stored event
data onto ``shared.contracts.PublicPayment`` (no checkout or redirect URLs, no metadata, no operator
names) and adds the payer's details only for a partner registered to receive them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, get_args

import msgspec

from shared.contracts import EventType, PublicPayment

PAYER_FIELDS = ("payer_email", "payer_name")


class WebhookEnvelope(msgspec.Struct, kw_only=True):
    """The body of every payment webhook (Standard Webhooks): the bytes signed are the bytes sent.

    ``sequence``: 1, 2, 3… per payment in the order of its changes, so a receiver can order a payment's
    events (a partner can also ask for ordered delivery) without comparing timestamps."""

    type: EventType
    timestamp: datetime
    sequence: int
    data: PublicPayment


@dataclass(frozen=True, slots=True)
class EventDefinition:
    name: str
    fires_when: str
    data: type[msgspec.Struct]
    example: dict[str, Any]  # the ``data`` of an example body


CATALOG_EXAMPLE_ID = "5e3f1c8a-2b7d-4c9e-9f10-3a6b8d2e4f71"  # an example event id (``webhook-id``)


def _example_payment(status: str, **changes: Any) -> dict[str, Any]:
    example: dict[str, Any] = {
        "id": "0f8fad5b-d9cb-469f-a165-70867728950e",
        "reservation_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
        "user_id": "16fd2706-8baf-433b-82eb-8c7fada847da",
        "amount": 2500,
        "currency": "EUR",
        "status": status,
        "provider": "mock",
        "capture_method": "automatic",
        "captured_amount": 2500 if status in {"succeeded", "partially_refunded", "refunded"} else 0,
        "refunded_amount": 0,
        "description": "Concert ticket, row 4",
        "failure_reason": None,
        "confirmed_at": None,
        "created_at": "2026-11-22T10:00:00.123456Z",
        "updated_at": "2026-11-22T10:01:30.654321Z",
    }
    example.update(changes)
    return example


def _payment_event(type_: str, fires_when: str, status: str, **changes: Any) -> EventDefinition:
    return EventDefinition(type_, fires_when, PublicPayment, _example_payment(status, **changes))


CATALOG: dict[str, EventDefinition] = {
    d.name: d
    for d in (
        _payment_event(
            "payment.created",
            "A checkout created the payment (`pending`); the payer is on the provider's page.",
            "pending",
            updated_at="2026-11-22T10:00:00.123456Z",
        ),
        _payment_event(
            "payment.processing",
            "The payer finished but the payment method settles later (`processing`).",
            "processing",
        ),
        _payment_event(
            "payment.authorized",
            "A manual-capture payment was authorized (`authorized`): the funds are held, not yet taken.",
            "authorized",
            capture_method="manual",
            authorized_at="2026-11-22T10:01:30.654321Z",
        ),
        _payment_event(
            "payment.captured",
            "An authorized payment was captured (`succeeded`); `captured_amount` says how much.",
            "succeeded",
            capture_method="manual",
            captured_amount=2000,
            authorized_at="2026-11-22T10:01:30.654321Z",
        ),
        _payment_event(
            "payment.succeeded", "The payment succeeded (`succeeded`): the reservation is paid.", "succeeded"
        ),
        _payment_event(
            "payment.failed",
            "The provider declined or the payment failed (`failed`); `failure_reason` says why.",
            "failed",
            failure_reason="declined",
        ),
        _payment_event(
            "payment.canceled",
            "The payment was canceled before it settled, or an authorization released (`canceled`).",
            "canceled",
        ),
        _payment_event(
            "payment.refund_pending",
            "A refund was accepted by the provider but is not finished (Stripe `pending`/`requires_action`):"
            " its amount is in `pending_refund_amount`, not yet in `refunded_amount`; the status stays"
            " (`succeeded` or `partially_refunded`).",
            "succeeded",
            pending_refund_amount=1000,
        ),
        _payment_event(
            "payment.refunded",
            "A refund went through: `partially_refunded` while some is left, `refunded` when all of it"
            " is (one event per refund; `refunded_amount` is the total so far). Refunds made outside"
            " paygate (Stripe's Dashboard) are announced too.",
            "partially_refunded",
            refunded_amount=1000,
        ),
        _payment_event(
            "payment.refund_failed",
            "A pending refund failed at the provider: its amount leaves `pending_refund_amount` and is"
            " refundable again; the status stays (`succeeded` or `partially_refunded`).",
            "succeeded",
        ),
        _payment_event(
            "payment.disputed",
            "The payer disputed the payment (a chargeback): `dispute` has its id, status, amount and"
            " reason; the payment's status does not change (`succeeded`, or refunded).",
            "succeeded",
            dispute={"id": "dp_1Qb2c3", "status": "needs_response", "amount": 2500, "reason": "fraudulent"},
        ),
        _payment_event(
            "payment.dispute_closed",
            "The dispute reached its final status (`won`, `lost`, `prevented` or `warning_closed`, in"
            " `dispute.status`); the payment's status stays (`succeeded`, or refunded).",
            "succeeded",
            dispute={"id": "dp_1Qb2c3", "status": "won", "amount": 2500, "reason": "fraudulent"},
        ),
    )
}

assert set(CATALOG) == set(get_args(EventType)), "every EventType has one catalog entry"

_decoders: dict[type[msgspec.Struct], msgspec.json.Decoder[Any]] = {}
_encoder = msgspec.json.Encoder()


def public_data(data_json: bytes | str, event_type: str, *, payer_details: bool) -> msgspec.Struct:
    """The stored event ``data`` (the payment after the change) as its public shape.

    Fields outside the public shape are dropped; the payer's details stay only with ``payer_details``.
    """
    shape = CATALOG[event_type].data
    decoder = _decoders.get(shape)
    if decoder is None:
        decoder = _decoders[shape] = msgspec.json.Decoder(shape)
    data = decoder.decode(data_json)
    if not payer_details and isinstance(data, PublicPayment):
        data = msgspec.structs.replace(data, payer_email=msgspec.UNSET, payer_name=msgspec.UNSET)
    return data


def public_body(
    event_type: str, created_at: datetime, data_json: bytes | str, *, payer_details: bool, sequence: int
) -> bytes:
    """The exact bytes a subscriber receives (and that are signed) for one stored event."""
    data = public_data(data_json, event_type, payer_details=payer_details)
    return _encoder.encode({"type": event_type, "timestamp": created_at, "sequence": sequence, "data": data})


def body_schema(
    event_type: str, ref_template: str = "#/$defs/{name}"
) -> tuple[dict[str, Any], dict[str, Any]]:
    """JSON Schema (2020-12) of an event's body, and the schemas it refers to (by ``ref_template``)."""
    definition = CATALOG[event_type]
    (data_ref,), defs = msgspec.json.schema_components([definition.data], ref_template=ref_template)
    schema = {
        "type": "object",
        "title": event_type,
        "required": ["type", "timestamp", "sequence", "data"],
        "properties": {
            "type": {"const": event_type},
            "timestamp": {"type": "string", "format": "date-time", "description": "When the event happened"},
            "sequence": {
                "type": "integer",
                "minimum": 1,
                "description": "1, 2, 3… per payment (data.id) in the order of its changes",
            },
            "data": data_ref,
        },
    }
    return schema, defs


def example_body(event_type: str) -> dict[str, Any]:
    definition = CATALOG[event_type]
    return {
        "type": event_type,
        "timestamp": definition.example["updated_at"],
        "sequence": 1,
        "data": definition.example,
    }


def readme_table() -> str:
    """The partner guide's event table (README.md, between the ``event-catalog`` markers)."""
    lines = ["| type | sent when |", "|------|-----------|"]
    lines += [f"| `{d.name}` | {d.fires_when} |" for d in CATALOG.values()]
    return "\n".join(lines) + "\n"
