"""Payments, refunds and idempotency keys: SQLAlchemy Core statements on an ``AsyncConnection``
(callers own the transaction), and the one raw asyncpg statement of the create hot path. payment_ms
reads and writes rows, not ORM objects: an ORM unit of work, and even the Core create (BEGIN, four
statements, COMMIT), cost several times the single statement that now replaces it (BENCHMARKS.md,
"checkout")."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import asyncpg
import msgspec
from sqlalchemy import Date, RowMapping, Table, cast, delete, func, insert, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from payment_ms.pagination import Cursor, keyset_page, matching
from payment_ms.providers.base import CheckoutSession
from shared.contracts import Payment
from shared.models import IdempotencyKey
from shared.models import Payment as PaymentModel
from shared.models import PaymentCommand as PaymentCommandModel
from shared.models import Refund as RefundModel
from shared.outbox import INSERT_EVENT, NOTIFY_EVENT
from shared.queries import PaymentFilter
from shared.sql import NamedQuery

payments: Table = PaymentModel.__table__  # type: ignore[assignment]
refunds: Table = RefundModel.__table__  # type: ignore[assignment]
idempotency_keys: Table = IdempotencyKey.__table__  # type: ignore[assignment]


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
    SELECT id, 'payment.created', :data::jsonb, :request_id, 1 FROM p
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
    for the days ``day_from`` to ``day_to`` inclusive."""
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


# ------------------------------------------------------------------------------- idempotency keys


async def insert_key(
    conn: AsyncConnection, *, scope: str, key: str, request_fingerprint: str, lease: timedelta
) -> bool:
    """The key, in flight for ``lease``; False when it exists already (nothing written)."""
    inserted = await conn.execute(
        pg_insert(idempotency_keys)
        .values(
            scope=scope,
            key=key,
            request_fingerprint=request_fingerprint,
            state="in_flight",
            locked_until=func.now() + lease,
        )
        .on_conflict_do_nothing()
        .returning(idempotency_keys.c.key)
    )
    return inserted.first() is not None


_FIND_KEY = NamedQuery(
    "SELECT request_fingerprint, state, response_status, response_body, payment_id FROM idempotency_keys"
    " WHERE scope = :scope AND key = :key"
)
_FIND_KEY_CORE = text(_FIND_KEY.source)


async def find_key(
    conn: AsyncConnection | asyncpg.Connection, *, scope: str, key: str
) -> RowMapping | Mapping[str, Any] | None:
    """The key's row, on either kind of connection (the single-statement create holds only the raw
    one: it looks the key up right after its statement found it taken)."""
    if isinstance(conn, AsyncConnection):
        result = await conn.execute(_FIND_KEY_CORE, {"scope": scope, "key": key})
        return result.mappings().one_or_none()
    row: Mapping[str, Any] | None = await conn.fetchrow(_FIND_KEY.sql, *_FIND_KEY.args(scope=scope, key=key))
    return row


async def take_over_key(
    conn: AsyncConnection, *, scope: str, key: str, lease: timedelta
) -> tuple[bool, uuid.UUID | None]:
    """Renew the lease of an in-flight key whose lease ran out: (taken, the payment it had made)."""
    taken = await conn.execute(
        update(idempotency_keys)
        .where(
            idempotency_keys.c.scope == scope,
            idempotency_keys.c.key == key,
            idempotency_keys.c.state == "in_flight",
            idempotency_keys.c.locked_until <= func.now(),
        )
        .values(locked_until=func.now() + lease)
        .returning(idempotency_keys.c.payment_id)
    )
    row = taken.first()
    return (False, None) if row is None else (True, row.payment_id)


async def attach_payment_to_key(
    conn: AsyncConnection, *, scope: str, key: str, payment_id: uuid.UUID
) -> None:
    await conn.execute(
        update(idempotency_keys)
        .where(idempotency_keys.c.scope == scope, idempotency_keys.c.key == key)
        .values(payment_id=payment_id)
    )


async def complete_key(
    conn: AsyncConnection, *, scope: str, key: str, status: int, body: bytes, payment_id: uuid.UUID | None
) -> None:
    await conn.execute(
        update(idempotency_keys)
        .where(idempotency_keys.c.scope == scope, idempotency_keys.c.key == key)
        .values(
            state="completed",
            response_status=status,
            response_body=body,
            payment_id=payment_id,
            locked_until=None,
        )
    )


async def delete_in_flight_key(conn: AsyncConnection, *, scope: str, key: str) -> None:
    await conn.execute(
        delete(idempotency_keys).where(
            idempotency_keys.c.scope == scope,
            idempotency_keys.c.key == key,
            idempotency_keys.c.state == "in_flight",
        )
    )


async def delete_expired_keys(conn: AsyncConnection, *, ttl_hours: int) -> int:
    """Completed keys older than the TTL (in-flight ones are left to their lease)."""
    result = await conn.execute(
        delete(idempotency_keys).where(
            idempotency_keys.c.state == "completed",
            idempotency_keys.c.created_at < func.now() - timedelta(hours=ttl_hours),
        )
    )
    return result.rowcount


# ------------------------------------------------------------------------------ lifecycle: commands

commands: Table = PaymentCommandModel.__table__  # type: ignore[assignment]


async def command_key(
    conn: AsyncConnection,
    *,
    payment_id: uuid.UUID,
    action: str,
    request_key: str | None,
    request_fingerprint: str,
    new_provider_key: str,
) -> RowMapping:
    """The command's stored row: the one of an earlier try of this command (same ``request_key``), or
    a new one with ``new_provider_key``. A command without a request key is always new."""
    inserted = await conn.execute(
        pg_insert(commands)
        .values(
            payment_id=payment_id,
            action=action,
            request_key=request_key,
            request_fingerprint=request_fingerprint,
            provider_key=new_provider_key,
        )
        .on_conflict_do_nothing(constraint="uq_payment_commands_payment_id_action_request_key")
        .returning(commands.c.provider_key, commands.c.request_fingerprint)
    )
    row = inserted.mappings().one_or_none()
    if row is not None:
        return row
    existing = await conn.execute(
        select(commands.c.provider_key, commands.c.request_fingerprint).where(
            commands.c.payment_id == payment_id,
            commands.c.action == action,
            commands.c.request_key == request_key,
        )
    )
    return existing.mappings().one()


# ------------------------------------------------------------------------ lifecycle: provider events


async def lock_by_reference(
    conn: AsyncConnection,
    provider: str,
    *,
    payment_id: uuid.UUID | None,
    session_id: str | None,
    intent_id: str | None,
) -> RowMapping | None:
    """The provider's payment, locked, by whichever reference its event carries (ours first)."""
    candidates = []
    if payment_id is not None:
        candidates.append(payments.c.id == payment_id)
    if session_id:
        candidates.append(payments.c.provider_session_id == session_id)
    if intent_id:
        candidates.append(payments.c.provider_payment_id == intent_id)
    if not candidates:
        return None
    result = await conn.execute(
        select(payments)
        .where(payments.c.provider == provider, or_(*candidates))
        .order_by(payments.c.created_at)
        .limit(1)
        .with_for_update()
    )
    return result.mappings().one_or_none()


# ------------------------------------------------------------------------------ lifecycle: refunds


async def lock_refund(conn: AsyncConnection, provider_refund_id: str) -> RowMapping | None:
    result = await conn.execute(
        select(refunds).where(refunds.c.provider_refund_id == provider_refund_id).with_for_update()
    )
    return result.mappings().one_or_none()


async def add_refund(
    conn: AsyncConnection,
    *,
    payment_id: uuid.UUID,
    amount: int,
    provider_refund_id: str | None,
    reason: str | None,
    status: str,
    failure_reason: str | None = None,
) -> None:
    await conn.execute(
        insert(refunds).values(
            payment_id=payment_id,
            amount=amount,
            provider_refund_id=provider_refund_id,
            reason=reason,
            status=status,
            failure_reason=failure_reason,
        )
    )


async def update_refund(conn: AsyncConnection, refund_id: uuid.UUID, values: dict[str, Any]) -> None:
    await conn.execute(
        update(refunds).where(refunds.c.id == refund_id).values(**values, updated_at=func.now())
    )
