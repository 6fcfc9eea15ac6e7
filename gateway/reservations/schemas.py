"""Reservations: what a user pays for. The amount lives here and only here; checkout reads it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from shared.contracts import TEXT_PATTERN, CaptureMethod, CurrencyCode

ReservationStatus = Literal["payable", "pending", "paid", "refunded"]
MAX_AMOUNT = 10**15  # far above any real price, far below BIGINT


class ReservationCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    user_id: UUID
    amount: Annotated[int, msgspec.Meta(gt=0, le=MAX_AMOUNT, description="Integer minor units (cents, yen…)")]
    currency: CurrencyCode
    description: Annotated[str, msgspec.Meta(min_length=1, max_length=500, pattern=TEXT_PATTERN)]
    # ``manual``: the payment is only authorized (escrow) until an admin captures or releases it;
    # unset: the checkout request chooses (automatic by default).
    capture_method: CaptureMethod | None = None


class ReservationView(msgspec.Struct, kw_only=True):
    id: UUID
    user_id: UUID
    amount: int
    currency: str
    description: str
    status: ReservationStatus
    payment_id: UUID | None
    payment_status: str | None
    capture_method: CaptureMethod | None
    created_at: datetime
    updated_at: datetime


class ReservationList(msgspec.Struct, kw_only=True):
    """Newest first; pass ``next_cursor`` back as ``cursor`` for the next page (None: the last one)."""

    items: list[ReservationView]
    next_cursor: str | None
