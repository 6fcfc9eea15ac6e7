"""The lifecycle's statements: a command's key, the payment a provider's event refers to, refunds."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import RowMapping, Table, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from payment_ms.payments.repositories.rows import payments
from shared.models import PaymentCommand as PaymentCommandModel
from shared.models import Refund as RefundModel

refunds: Table = RefundModel.__table__  # type: ignore[assignment]


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
