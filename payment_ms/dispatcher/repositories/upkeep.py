"""The dispatcher's upkeep: endpoint health, retention, queue gauges, reconciliation's stuck
payments, expired holds and the advisory lock of the single-instance passes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from payment_ms.dispatcher.repositories.deliveries import Connection, Record

# Health: failures add up (a success in the same batch cleared the row first, in _RECORD_ATTEMPTS).
_HEALTH_FAILED = """
INSERT INTO endpoint_health AS h (partner_id, consecutive_failures, failing_since, updated_at)
SELECT * , now() FROM unnest($1::uuid[], $2::int[], $3::timestamptz[])
ON CONFLICT (partner_id) DO UPDATE
SET consecutive_failures = h.consecutive_failures + EXCLUDED.consecutive_failures,
    failing_since = coalesce(h.failing_since, EXCLUDED.failing_since),
    updated_at = now()
RETURNING partner_id, consecutive_failures, failing_since
"""


_FORGET_HEALTH = "DELETE FROM endpoint_health WHERE partner_id = $1"


# Retention: the oldest events past the period lose their payload, their attempts their bodies; ids,
# states and timestamps stay. A pending delivery keeps its event's payload (it is still to be sent).
_PURGE = """
WITH old AS (
    SELECT id FROM payment_events e
    WHERE e.created_at < now() - make_interval(secs => $1::float8) AND e.purged_at IS NULL
      AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id AND d.status = 'pending')
    ORDER BY e.created_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED
), events AS (
    UPDATE payment_events e SET data = NULL, purged_at = now() FROM old WHERE e.id = old.id RETURNING e.id
), attempts AS (
    UPDATE delivery_attempts a SET response_excerpt = NULL
    FROM webhook_deliveries d
    WHERE d.event_id IN (SELECT id FROM events) AND a.delivery_id = d.id
      AND a.response_excerpt IS NOT NULL
      AND a.started_at < now() - make_interval(secs => $1::float8)
    RETURNING a.id
)
SELECT (SELECT count(*) FROM events) AS events, (SELECT count(*) FROM attempts) AS attempts
"""


_SECONDS_UNTIL_DUE = """
SELECT extract(epoch FROM least(
    (SELECT min(due_at) FROM webhook_deliveries
     WHERE status = 'pending' AND NOT (partner_id = ANY($1::uuid[]))),
    (SELECT min(fan_out_due_at) FROM payment_events WHERE fanned_out_at IS NULL)
) - now())::float8
"""


_QUEUE_STATS = """
SELECT count(*) AS depth, coalesce(extract(epoch FROM now() - min(due_at)), 0)::float8 AS oldest_age
FROM webhook_deliveries WHERE status = 'pending' AND due_at <= now()
"""


_UNFANNED = "SELECT count(*) FROM payment_events WHERE fanned_out_at IS NULL"


_HELD = """
SELECT count(*) FILTER (WHERE held = 'ordering'), count(*) FILTER (WHERE held = 'disabled')
FROM webhook_deliveries WHERE status = 'pending' AND held IS NOT NULL
"""


# Reconciliation: payments a provider left unsettled, oldest first.
_STUCK = """
SELECT id FROM payments
WHERE status IN ('pending', 'processing') AND updated_at < now() - make_interval(secs => $1::float8)
  AND NOT (id = ANY($2::uuid[]))
ORDER BY updated_at
LIMIT $3
"""


async def health_failed(conn: Connection, failures: Sequence[tuple[UUID, int, Any]]) -> list[Record]:
    """``failures``: (partner, failed attempts since its last success in this batch, the first one's
    time). Returns every such partner's row as it now is."""
    if not failures:
        return []
    columns = [list(column) for column in zip(*failures, strict=True)]
    return await conn.fetch(_HEALTH_FAILED, *columns)


async def forget_health(conn: Connection, partner_id: UUID) -> None:
    await conn.execute(_FORGET_HEALTH, partner_id)


async def purge_expired(
    conn: Connection, retention_seconds: float, batch: int, cancel_after: float | None = None
) -> tuple[int, int]:
    """One batch of retention: (events purged, attempt bodies purged); ``cancel_after`` as in
    ``release_unblocked``."""
    row = await conn.fetchrow(_PURGE, retention_seconds, batch, timeout=cancel_after)
    return int(row["events"]), int(row["attempts"])


async def seconds_until_due(conn: Connection, excluded_partners: Sequence[UUID]) -> float | None:
    value: float | None = await conn.fetchval(_SECONDS_UNTIL_DUE, list(excluded_partners))
    return value


async def queue_stats(conn: Connection) -> tuple[int, float, int]:
    row = await conn.fetchrow(_QUEUE_STATS)
    unfanned = await conn.fetchval(_UNFANNED)
    assert row is not None
    return int(row["depth"]), float(row["oldest_age"]), int(unfanned)


async def held_stats(conn: Connection) -> tuple[int, int]:
    """Pending deliveries waiting for an earlier event (ordering) and for their partner (disabled)."""
    row = await conn.fetchrow(_HELD)
    return int(row[0]), int(row[1])


async def stuck_payments(
    conn: Connection, *, older_than: float, excluded: Sequence[UUID], limit: int
) -> list[UUID]:
    """Pending/processing payments unchanged for ``older_than`` seconds, but for ``excluded``."""
    rows = await conn.fetch(_STUCK, older_than, list(excluded), limit)
    return [row["id"] for row in rows]


_EXPIRED_HOLDS = """
SELECT id FROM payments
WHERE status = 'authorized' AND authorized_at < now() - make_interval(secs => $1::float8)
  AND NOT (id = ANY($2::uuid[]))
ORDER BY authorized_at
LIMIT $3
"""


async def expired_holds(
    conn: Connection, *, older_than: float, excluded: Sequence[UUID], limit: int
) -> list[UUID]:
    """Authorized (manual capture) payments held longer than ``older_than`` seconds, oldest first."""
    rows = await conn.fetch(_EXPIRED_HOLDS, older_than, list(excluded), limit)
    return [row["id"] for row in rows]


async def try_advisory_lock(conn: Connection, lock: int) -> bool:
    """A session-level advisory lock on this connection (False: another session holds it)."""
    return bool(await conn.fetchval("SELECT pg_try_advisory_lock($1)", lock))


async def advisory_unlock(conn: Connection, lock: int) -> None:
    await conn.execute("SELECT pg_advisory_unlock($1)", lock)
