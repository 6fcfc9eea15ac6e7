"""Checkout bodies. Amount and currency are not accepted from the client: they come from the reservation."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import msgspec

from shared.contracts import SINGLE_LINE_PATTERN, CaptureMethod, PaymentStatus, Url

IdempotencyKey = Annotated[str, msgspec.Meta(min_length=1, max_length=255, pattern=SINGLE_LINE_PATTERN)]


class CheckoutRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    reservation_id: UUID
    return_url: Url
    cancel_url: Url
    # ``manual``: authorize only (escrow), an admin captures later. A reservation whose admin chose a
    # capture method keeps it: asking for the other one is 422.
    capture_method: CaptureMethod | None = None


class CheckoutResponse(msgspec.Struct, kw_only=True):
    payment_id: UUID
    status: PaymentStatus
    checkout_url: str | None
    reservation_id: UUID
