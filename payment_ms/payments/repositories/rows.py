"""Payment rows: the create (Core, and the one raw asyncpg statement of the hot path), reads, locks,
updates, the list and the daily stats."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import asyncpg
import msgspec
from sqlalchemy import Date, RowMapping, Table, cast, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from payment_ms.pagination import Cursor, keyset_page, matching
from payment_ms.providers.base import CheckoutSession
from shared.contracts import Payment
from shared.models import LIVE_PAYMENT_STATUSES
from shared.models import Payment as PaymentModel
from shared.outbox import INSERT_EVENT, NOTIFY_EVENT
from shared.queries import PaymentFilter
from shared.sql import NamedQuery

payments: Table = PaymentModel.__table__  # type: ignore[assignment]


async def insert_payment(conn: AsyncConnection, values: dict[str, Any]) -> RowMapping:
    result = await conn.execute(insert(payments).values(**values).returning(*payments.c))
    return result.mappings().one()


# The whole create contract of a provider with no network call, in ONE statement: the idempotency key
# stored completed with the answer, the payment, its ``payment.created`` event, the dispatcher's
# NOTIFY. A concurrent duplicate's key INSERT waits for this statement's commit, then does nothing,
# and the caller replays the stored answer. Measured against the Core unit of work it replaced
# (key, payment, event, key update: BEGIN + 4 statements + COMMIT): BENCHMARKS.md, "checkout".
# The event fragments are constants of shared.outbox, not input.
_CREATE_WITH_KEY = NamedQuery(
    f"""
WITH k AS (
    INSERT INTO idempotency_keys
        (scope, key, request_fingerprint, state, response_status, response_body, payment_id)
    VALUES (:scope, :key, :request_fingerprint, 'completed', 201, :response_body, :id)
    ON CONFLICT DO NOTHING
    RETURNING payment_id
), p AS (
    INSERT INTO payments
        (id, reservation_id, user_id, amount, currency, provider, capture_method, description, payer_email,
         payer_name, return_url, cancel_url, checkout_url, provider_session_id, provider_status, metadata,
         created_at, updated_at)
    SELECT payment_id, :reservation_id, :user_id, :amount, :currency, :provider, :capture_method,
           :description, :payer_email, :payer_name, :return_url, :cancel_url, :checkout_url,
           :provider_session_id, :provider_status, :metadata::jsonb, :created_at, :created_at
    FROM k
    RETURNING id
), event AS (
    {INSERT_EVENT}
    SELECT id, 'payment.created', :data::jsonb, :request_id, 'payer', 1 FROM p
    RETURNING id
)
{NOTIFY_EVENT}
"""  # noqa: S608
)


async def insert_created_payment(
    conn: asyncpg.Connection,
    payment: Payment,
    session: CheckoutSession,
    *,
    scope: str,
    key: str,
    request_fingerprint: str,
    body: bytes,
    request_id: str | None,
) -> bool:
    """False when the key already existed (nothing written): answer with what it holds instead.
    ``body`` (the encoded ``payment``) is both the stored answer and the event's ``data``."""
    event = await conn.fetchrow(
        _CREATE_WITH_KEY.sql,
        *_CREATE_WITH_KEY.args(
            scope=scope,
            key=key,
            request_fingerprint=request_fingerprint,
            response_body=body,
            id=payment.id,
            reservation_id=payment.reservation_id,
            user_id=payment.user_id,
            amount=payment.amount,
            currency=payment.currency,
            provider=payment.provider,
            capture_method=payment.capture_method,
            description=payment.description,
            payer_email=payment.payer_email,
            payer_name=payment.payer_name,
            return_url=payment.return_url,
            cancel_url=payment.cancel_url,
            checkout_url=payment.checkout_url,
            provider_session_id=session.session_id,
            provider_status=session.provider_status,
            metadata=msgspec.json.encode(payment.metadata).decode(),
            created_at=payment.created_at,
            data=body.decode(),
            request_id=request_id,
        ),
    )
    return event is not None


_LIVE_PAYMENT_OF = "SELECT id FROM payments WHERE reservation_id = $1 AND status = ANY($2::text[])"


async def live_payment_of(conn: asyncpg.Connection, reservation_id: uuid.UUID) -> uuid.UUID | None:
    """The reservation's live payment (``uq_payments_live_reservation_id`` allows one), if any."""
    payment_id: uuid.UUID | None = await conn.fetchval(
        _LIVE_PAYMENT_OF, reservation_id, list(LIVE_PAYMENT_STATUSES)
    )
    return payment_id


async def get_payment(conn: AsyncConnection, payment_id: uuid.UUID) -> RowMapping | None:
    result = await conn.execute(select(payments).where(payments.c.id == payment_id))
    return result.mappings().one_or_none()


async def lock_payment(conn: AsyncConnection, payment_id: uuid.UUID) -> RowMapping | None:
    """The row, locked until the transaction ends: every state change on a payment goes through here."""
    result = await conn.execute(select(payments).where(payments.c.id == payment_id).with_for_update())
    return result.mappings().one_or_none()


async def find_by_session(conn: AsyncConnection, provider: str, session_id: str) -> RowMapping | None:
    result = await conn.execute(
        select(payments)
        .where(payments.c.provider == provider, payments.c.provider_session_id == session_id)
        .with_for_update()
    )
    return result.mappings().one_or_none()


async def update_payment(conn: AsyncConnection, payment_id: uuid.UUID, values: dict[str, Any]) -> RowMapping:
    result = await conn.execute(
        update(payments)
        .where(payments.c.id == payment_id)
        .values(**values, updated_at=func.now())
        .returning(*payments.c)
    )
    return result.mappings().one()


async def delete_payment(conn: AsyncConnection, payment_id: uuid.UUID) -> None:
    await conn.execute(payments.delete().where(payments.c.id == payment_id))


async def list_payments(
    conn: AsyncConnection, after: Cursor | None, limit: int, *, filters: PaymentFilter
) -> Sequence[RowMapping]:
    """Newest first (``payment_ms.pagination``)."""
    where = matching(
        payments,
        status=filters.status,
        provider=filters.provider,
        user_id=filters.user_id,
        reservation_id=filters.reservation_id,
    )
    if filters.amount_min is not None:  # a filter on the scan in created_at order, never an order of its own
        where.append(payments.c.amount >= filters.amount_min)
    if filters.amount_max is not None:
        where.append(payments.c.amount <= filters.amount_max)
    return await keyset_page(conn, payments, where, filters, after=after, limit=limit)


async def daily_stats(conn: AsyncConnection, *, day_from: date, day_to: date) -> Sequence[RowMapping]:
    """Count and sum per UTC day, provider, status and currency (sums across currencies mean nothing),
    for the days ``day_from`` to ``day_to`` inclusive. The day expression is the one the extended
    statistics of revision 0012 describe: keep them alike, or the planner sorts every payment again."""
    start = datetime.combine(day_from, time.min, UTC)
    # the day after ``to`` (the calendar's last day has none: its last moment, inclusive)
    before_end = (
        payments.c.created_at < datetime.combine(day_to + timedelta(days=1), time.min, UTC)
        if day_to < date.max
        else payments.c.created_at <= datetime.combine(day_to, time.max, UTC)
    )
    day = cast(func.timezone(text("'UTC'"), payments.c.created_at), Date).label("day")
    query = (
        select(
            day,
            payments.c.provider,
            payments.c.status,
            payments.c.currency,
            func.count().label("count"),
            func.coalesce(func.sum(payments.c.amount), 0).label("amount"),
        )
        .where(payments.c.created_at >= start, before_end)
        .group_by(day, payments.c.provider, payments.c.status, payments.c.currency)
        .order_by(day, payments.c.provider, payments.c.status, payments.c.currency)
    )
    return (await conn.execute(query)).mappings().all()


async def count_by_status(conn: AsyncConnection) -> dict[str, int]:
    result = await conn.execute(select(payments.c.status, func.count()).group_by(payments.c.status))
    return {status: count for status, count in result.all()}
