"""Idempotency keys: insert in flight, look up (on either kind of connection), take over, complete,
expire."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import asyncpg
from sqlalchemy import RowMapping, Table, delete, func, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.models import IdempotencyKey
from shared.sql import NamedQuery

idempotency_keys: Table = IdempotencyKey.__table__  # type: ignore[assignment]


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
