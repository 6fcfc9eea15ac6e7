"""Reservations and how they follow their payment.

A reservation's status is derived from its current payment's status, whichever way the news arrives
(the outbox event through ``POST /internal/payment-events``, or payment_ms's answer to a checkout,
get, verify or cancel). Updates are monotonic, so a late or repeated event never moves it backwards.
The current payment is the newest one: payment_ms allows a reservation one live payment at a time.
"""

from __future__ import annotations

import uuid

import msgspec
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from gateway.reservations import repositories
from gateway.reservations.schemas import ReservationCreate
from shared.contracts import PublicPayment
from shared.db import raw_connection
from shared.models import Reservation, User
from shared.money import check_amount, is_known_currency
from shared.pagination import decode_cursor, page
from shared.problems import InvalidInputError, NotFoundError, found

# How far along its life a payment is; a reservation only ever moves forward on this scale.
PAYMENT_PROGRESS = {
    "pending": 0,
    "processing": 1,
    "authorized": 2,
    "succeeded": 3,
    "failed": 3,
    "canceled": 3,
    "partially_refunded": 4,
    "refunded": 5,
}
RESERVATION_STATUS_FOR_PAYMENT = {
    "pending": "pending",
    "processing": "pending",
    "authorized": "pending",
    "succeeded": "paid",
    "partially_refunded": "paid",
    "refunded": "refunded",
    "failed": "payable",
    "canceled": "payable",
}


async def create_reservation(
    session: AsyncSession, data: ReservationCreate, *, max_amount: int
) -> Reservation:
    """``max_amount``: the largest amount this deployment takes (``PAYGATE_MAX_AMOUNT``)."""
    if not is_known_currency(data.currency):
        raise InvalidInputError(f"{data.currency} is not an ISO 4217 currency")
    check_amount(data.amount, max_amount)
    if await session.get(User, data.user_id) is None:
        raise NotFoundError("user_id: no such user")
    reservation = Reservation(**msgspec.structs.asdict(data))
    session.add(reservation)
    await session.flush()
    await session.refresh(reservation)
    return reservation


async def get_reservation(
    session: AsyncSession, reservation_id: uuid.UUID, *, owner_id: uuid.UUID | None = None
) -> Reservation:
    """``owner_id`` set: someone else's reservation is reported exactly like a missing one."""
    return found(await repositories.get(session, reservation_id, owner_id=owner_id), "No such reservation.")


async def list_reservations(
    session: AsyncSession,
    *,
    user_id: uuid.UUID | None = None,
    status: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[Reservation], str | None]:
    """A page, newest first, and the cursor of the next one."""
    rows = await repositories.list_(
        session, user_id=user_id, status=status, after=decode_cursor(cursor), limit=limit + 1
    )
    return page(rows, limit, lambda row: (row.created_at, row.id))


async def apply_payment(engine: AsyncEngine, payment: PublicPayment) -> bool:
    """Apply payment_ms's view of a payment to its reservation: its current payment moves only forward
    (the same news again, or older news arriving late, changes nothing); a newer payment than the one
    the reservation has becomes its current one (payment_ms keeps a reservation to one live payment,
    so the newest is the current). This is also how a reservation lost in a crash (the gateway writes
    it with asynchronous commit) is rebuilt: by the next event or read of its payment."""
    if payment.status not in PAYMENT_PROGRESS:
        return False
    async with raw_connection(engine) as conn:
        return await repositories.follow_payment(
            conn,
            PAYMENT_PROGRESS,
            reservation_id=payment.reservation_id,
            payment_id=payment.id,
            payment_created_at=payment.created_at,
            user_id=payment.user_id,
            payment_status=payment.status,
            status=RESERVATION_STATUS_FOR_PAYMENT[payment.status],
        )
