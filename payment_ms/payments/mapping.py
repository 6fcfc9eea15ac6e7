"""The one mapping between a ``payments`` row and the ``shared.contracts.Payment`` every answer and
every event carries, and the row a new payment starts as."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import RowMapping

from shared.contracts import Payment, PaymentCreate, PaymentDispute

_encode = msgspec.json.Encoder().encode
# Every contract field is a column of the same name (the row has more: the provider's ids and state),
# except ``dispute``: the ``dispute_*`` columns.
PAYMENT_FIELDS: tuple[str, ...] = tuple(f for f in Payment.__struct_fields__ if f != "dispute")


def _dispute(row: RowMapping | Mapping[str, Any]) -> PaymentDispute | None:
    if row.get("dispute_id") is None:
        return None
    return PaymentDispute(
        id=row["dispute_id"],
        status=row["dispute_status"],
        amount=row["dispute_amount"],
        reason=row["dispute_reason"],
    )


def to_contract(row: RowMapping | Mapping[str, Any]) -> Payment:
    return Payment(**{field: row[field] for field in PAYMENT_FIELDS}, dispute=_dispute(row))


def encode_payment(payment: Payment) -> bytes:
    return _encode(payment)


def new_row(payment_id: uuid.UUID, data: PaymentCreate, provider: str) -> dict[str, Any]:
    """The columns a create sets (the database's defaults fill in the rest)."""
    return {
        "id": payment_id,
        "reservation_id": data.reservation_id,
        "user_id": data.user_id,
        "amount": data.amount,
        "currency": data.currency,
        "provider": provider,
        "capture_method": data.capture_method,
        "description": data.description,
        "payer_email": data.payer_email,
        "payer_name": data.payer_name,
        "return_url": data.return_url,
        "cancel_url": data.cancel_url,
        "metadata": data.metadata,
    }


def new_payment(
    payment_id: uuid.UUID, data: PaymentCreate, provider: str, checkout_url: str | None, now: datetime
) -> Payment:
    """A just-created payment as it is answered and recorded (``pending``, nothing captured yet): the
    row ``new_row`` writes with the database's defaults, as ``to_contract`` maps it."""
    row = {
        **new_row(payment_id, data, provider),
        "metadata": dict(data.metadata),
        "status": "pending",
        "captured_amount": 0,
        "refunded_amount": 0,
        "pending_refund_amount": 0,
        "authorized_at": None,
        "checkout_url": checkout_url,
        "failure_reason": None,
        "confirmed_by": None,
        "confirmed_at": None,
        "created_at": now,
        "updated_at": now,
    }
    return to_contract(row)
