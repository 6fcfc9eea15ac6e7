"""Idempotency keys (IETF draft "The Idempotency-Key HTTP Header Field").

Policy:
- a key is scoped to its caller: ``user:{user_id}`` for creating a payment, ``payment:{id}:{action}`` for
  the other mutating calls; 1 to 255 characters;
- the fingerprint is the SHA-256 of the canonical request (method, path, and the validated body re-encoded
  with sorted keys), so the same request with its JSON keys reordered is still the same request;
- same key, same fingerprint, completed → the stored status and body, byte for byte;
- same key, other fingerprint → 422; same key while the first request is in flight → 409 (retry later);
- an in-flight row whose ``locked_until`` lease ran out (its request died) may be taken over by a retry;
- only successful responses are stored: on an error the key is released and the client may retry;
- rows are kept at least ``PAYMENT_MS_IDEMPOTENCY_TTL_HOURS`` (24 h); ``purge_expired_keys`` deletes
  older ones.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
import msgspec
from sqlalchemy import Table, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.models import IdempotencyKey
from shared.problems import ConflictError, IdempotencyKeyReusedError, InvalidInputError

idempotency_keys: Table = IdempotencyKey.__table__  # type: ignore[assignment]

MAX_KEY_LENGTH = 255


@dataclass(frozen=True, slots=True)
class Claimed:
    """This request owns the key; ``payment_id`` is set when it took over a dead request's row."""

    payment_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class Replay:
    status: int
    body: bytes


def fingerprint(method: str, path: str, body: Any) -> str:
    canonical = msgspec.json.encode(msgspec.to_builtins(body), order="sorted")
    digest = hashlib.sha256(f"{method.upper()} {path}\n".encode())
    digest.update(canonical)
    return digest.hexdigest()


def validate_key(key: str) -> str:
    if not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise InvalidInputError(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters")
    return key


async def claim(
    conn: AsyncConnection, *, scope: str, key: str, request_fingerprint: str, lease_seconds: float
) -> Claimed | Replay:
    """Take the key for this request, or say what to answer instead.

    Inside a transaction that has not committed, a concurrent duplicate's INSERT waits for it, then sees
    the completed row: that is how the single-transaction create answers 50 duplicates identically.
    """
    lease = timedelta(seconds=lease_seconds)
    inserted = await conn.execute(
        insert(idempotency_keys)
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
    if inserted.first() is not None:
        return Claimed()
    row = (
        (
            await conn.execute(
                select(idempotency_keys).where(
                    idempotency_keys.c.scope == scope, idempotency_keys.c.key == key
                )
            )
        )
        .mappings()
        .one_or_none()
    )
    replay = answer_for_existing(row, request_fingerprint)
    if replay is not None:
        return replay
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
    took_over = taken.first()
    if took_over is None:
        raise still_in_progress()
    return Claimed(payment_id=took_over.payment_id)


_RETRY = {"Retry-After": "1"}
KEY_ROW = (
    "SELECT request_fingerprint, state, response_status, response_body FROM idempotency_keys"
    " WHERE scope = $1 AND key = $2"
)


def still_in_progress() -> ConflictError:
    return ConflictError("a request with this Idempotency-Key is still in progress", headers=_RETRY)


def answer_for_existing(
    row: Mapping[str, Any] | asyncpg.Record | None, request_fingerprint: str
) -> Replay | None:
    """What a request whose key already exists gets: the stored answer (completed), ``None`` (still in
    flight: the caller decides), or an error (another request's key, or a key released meanwhile)."""
    if row is None:  # released between our INSERT and SELECT: the caller may simply retry
        raise ConflictError("a request with this Idempotency-Key just failed; retry", headers=_RETRY)
    if row["request_fingerprint"] != request_fingerprint:
        raise IdempotencyKeyReusedError()
    if row["state"] == "completed":
        return Replay(row["response_status"], bytes(row["response_body"]))
    return None


async def attach_payment(conn: AsyncConnection, *, scope: str, key: str, payment_id: uuid.UUID) -> None:
    """Remember which payment an in-flight create made, so a retry after a crash reuses it."""
    await conn.execute(
        update(idempotency_keys)
        .where(idempotency_keys.c.scope == scope, idempotency_keys.c.key == key)
        .values(payment_id=payment_id)
    )


async def complete(
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


async def release(conn: AsyncConnection, *, scope: str, key: str) -> None:
    await conn.execute(
        delete(idempotency_keys).where(
            idempotency_keys.c.scope == scope,
            idempotency_keys.c.key == key,
            idempotency_keys.c.state == "in_flight",
        )
    )


async def purge_expired_keys(conn: AsyncConnection, *, ttl_hours: int) -> int:
    """Delete completed keys older than the TTL (in-flight ones are left to their lease)."""
    result = await conn.execute(
        delete(idempotency_keys).where(
            idempotency_keys.c.state == "completed",
            idempotency_keys.c.created_at < func.now() - timedelta(hours=ttl_hours),
        )
    )
    return result.rowcount
