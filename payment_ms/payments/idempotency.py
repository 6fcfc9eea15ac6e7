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

import msgspec
from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from payment_ms.payments import repositories as repo
from shared.problems import ConflictError, IdempotencyKeyReusedError, InvalidInputError

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
    inserted = await repo.insert_key(
        conn, scope=scope, key=key, request_fingerprint=request_fingerprint, lease=lease
    )
    if inserted:
        return Claimed()
    replay = answer_for_existing(await repo.find_key(conn, scope=scope, key=key), request_fingerprint)
    if replay is not None:
        return replay
    taken, payment_id = await repo.take_over_key(conn, scope=scope, key=key, lease=lease)
    if not taken:
        raise still_in_progress()
    return Claimed(payment_id=payment_id)


_RETRY = {"Retry-After": "1"}


def still_in_progress() -> ConflictError:
    return ConflictError("a request with this Idempotency-Key is still in progress", headers=_RETRY)


def answer_for_existing(
    row: RowMapping | Mapping[str, Any] | None, request_fingerprint: str
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


# The key's other writes, under the names the payment code uses.
attach_payment = repo.attach_payment_to_key  # an in-flight create's payment: a retry after a crash reuses it
complete = repo.complete_key
release = repo.delete_in_flight_key
purge_expired_keys = repo.delete_expired_keys
