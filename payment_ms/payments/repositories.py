"""SQLAlchemy Core statements on an ``AsyncConnection`` (callers own the transaction), and the one raw
asyncpg statement of the create hot path. payment_ms reads and writes rows, not ORM objects: on this
machine an ORM unit of work cost ~3.5x a raw insert, and the Core create (BEGIN, four statements,
COMMIT) still cost ~6x the single statement that now replaces it (BENCHMARKS.md, "checkout")."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import asyncpg
import msgspec
from sqlalchemy import Date, RowMapping, Table, and_, cast, func, insert, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from payment_ms.providers.base import CheckoutSession
from shared.contracts import Payment
from shared.models import Payment as PaymentModel
from shared.models import Refund as RefundModel

payments: Table = PaymentModel.__table__  # type: ignore[assignment]
refunds: Table = RefundModel.__table__  # type: ignore[assignment]


async def insert_payment(conn: AsyncConnection, values: dict[str, Any]) -> RowMapping:
    result = await conn.execute(insert(payments).values(**values).returning(*payments.c))
    return result.mappings().one()


# The whole create contract of a provider with no network call, in ONE statement: the idempotency key
# stored completed with the answer, the payment, its ``payment.created`` event, the dispatcher's
# NOTIFY. A concurrent duplicate's key INSERT waits for this statement's commit, then does nothing,
# and the caller replays the stored answer. Measured against the Core unit of work it replaced
# (key, payment, event, key update: BEGIN + 4 statements + COMMIT): BENCHMARKS.md, "checkout".
_CREATE_WITH_KEY = """
WITH k AS (
    INSERT INTO idempotency_keys
        (scope, key, request_fingerprint, state, response_status, response_body, payment_id)
    VALUES ($1, $2, $3, 'completed', 201, $4, $5)
    ON CONFLICT DO NOTHING
    RETURNING payment_id
), p AS (
    INSERT INTO payments
        (id, reservation_id, user_id, amount, currency, provider, capture_method, description, payer_email,
         payer_name, return_url, cancel_url, checkout_url, provider_session_id, provider_status, metadata,
         created_at, updated_at)
    SELECT payment_id, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20::jsonb, $21, $21
    FROM k
    RETURNING id
), e AS (
    INSERT INTO payment_events (payment_id, type, data, request_id, sequence)
    SELECT id, 'payment.created', $22::jsonb, $23, 1 FROM p
    RETURNING id
)
SELECT id, pg_notify('payment_events', id::text) FROM e
"""


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
    """False when the key already existed (nothing written): answer with what it holds instead."""
    text_body = body.decode()
    event = await conn.fetchrow(
        _CREATE_WITH_KEY,
        scope,
        key,
        request_fingerprint,
        body,
        payment.id,
        payment.reservation_id,
        payment.user_id,
        payment.amount,
        payment.currency,
        payment.provider,
        payment.capture_method,
        payment.description,
        payment.payer_email,
        payment.payer_name,
        payment.return_url,
        payment.cancel_url,
        payment.checkout_url,
        session.session_id,
        session.provider_status,
        msgspec.json.encode(payment.metadata).decode(),
        payment.created_at,
        text_body,
        request_id,
    )
    return event is not None


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


async def insert_refund(
    conn: AsyncConnection,
    *,
    payment_id: uuid.UUID,
    amount: int,
    provider_refund_id: str | None,
    reason: str | None,
) -> None:
    await conn.execute(
        insert(refunds).values(
            payment_id=payment_id, amount=amount, provider_refund_id=provider_refund_id, reason=reason
        )
    )


async def list_payments(
    conn: AsyncConnection,
    *,
    status: str | None,
    provider: str | None,
    user_id: uuid.UUID | None,
    reservation_id: uuid.UUID | None,
    created_from: datetime | None,
    created_to: datetime | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[RowMapping]:
    """Newest first, keyset-paginated on (created_at, id): stable under inserts, no OFFSET scans."""
    query = select(payments)
    conditions = []
    if status is not None:
        conditions.append(payments.c.status == status)
    if provider is not None:
        conditions.append(payments.c.provider == provider)
    if user_id is not None:
        conditions.append(payments.c.user_id == user_id)
    if reservation_id is not None:
        conditions.append(payments.c.reservation_id == reservation_id)
    if created_from is not None:
        conditions.append(payments.c.created_at >= created_from)
    if created_to is not None:
        conditions.append(payments.c.created_at < created_to)
    if after is not None:
        created_at, last_id = after
        conditions.append(
            or_(
                payments.c.created_at < created_at,
                and_(payments.c.created_at == created_at, payments.c.id < last_id),
            )
        )
    query = query.where(*conditions).order_by(payments.c.created_at.desc(), payments.c.id.desc()).limit(limit)
    return (await conn.execute(query)).mappings().all()


async def daily_stats(conn: AsyncConnection, *, day_from: date, day_to: date) -> Sequence[RowMapping]:
    """Count and sum per UTC day, provider, status and currency (sums across currencies mean nothing),
    for the days ``day_from`` to ``day_to`` inclusive."""
    start = datetime.combine(day_from, time.min, UTC)
    end = datetime.combine(day_to + timedelta(days=1), time.min, UTC)
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
        .where(payments.c.created_at >= start, payments.c.created_at < end)
        .group_by(day, payments.c.provider, payments.c.status, payments.c.currency)
        .order_by(day, payments.c.provider, payments.c.status, payments.c.currency)
    )
    return (await conn.execute(query)).mappings().all()
