"""The dispatcher's SQL, on raw asyncpg: it is the hot loop. Every statement is one round trip.

``webhook_deliveries.due_at`` doubles as the lease: claiming pushes it to ``now() + lease`` and names
the worker in ``leased_by``; results are written only while the row is still leased to that worker.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from shared.models import LATENCY_BOUNDS_MS

# asyncpg ships no type information: a Connection or a pool's connection proxy.
Connection = Any
Record = Any

# Held deliveries (``held``) wait with ``due_at`` here, far past anything a schedule gives.
HELD_UNTIL = datetime(3000, 1, 1, tzinfo=UTC)

_CLAIM_EVENTS = """
SELECT id, type, payment_id, sequence FROM payment_events
WHERE fanned_out_at IS NULL AND fan_out_due_at <= now()
ORDER BY created_at
LIMIT $1
FOR UPDATE SKIP LOCKED
"""

_INSERT_DELIVERIES = """
INSERT INTO webhook_deliveries (event_id, partner_id, url)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[])
ON CONFLICT (event_id, partner_id) DO NOTHING
"""

# Ordered partners: a delivery waits (held 'ordering') while an earlier event of its payment is still
# pending for that partner, or comes earlier in the same batch. Only used for ordered partners' rows.
_INSERT_ORDERED_DELIVERIES = """
WITH r AS (
    SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::uuid[], $5::int[])
        AS r(event_id, partner_id, url, payment_id, sequence)
)
INSERT INTO webhook_deliveries (event_id, partner_id, url, held, due_at)
SELECT r.event_id, r.partner_id, r.url,
       CASE WHEN w.waits THEN 'ordering' END,
       CASE WHEN w.waits THEN $6::timestamptz ELSE now() END
FROM r, LATERAL (
    SELECT EXISTS (
        SELECT 1 FROM r earlier
        WHERE earlier.partner_id = r.partner_id AND earlier.payment_id = r.payment_id
          AND earlier.sequence < r.sequence
    ) OR EXISTS (
        SELECT 1 FROM payment_events e JOIN webhook_deliveries d ON d.event_id = e.id
        WHERE e.payment_id = r.payment_id AND e.sequence < r.sequence
          AND d.partner_id = r.partner_id AND d.status = 'pending'
    ) AS waits
) w
ON CONFLICT (event_id, partner_id) DO NOTHING
"""

# A delivery of an ordered partner is finished (delivered, given up, canceled): the next waiting event
# of the same payment, if any, is due now.
_RELEASE_NEXT_IN_ORDER = """
WITH done AS (
    SELECT d.partner_id, e.payment_id, e.sequence
    FROM webhook_deliveries d JOIN payment_events e ON e.id = d.event_id
    WHERE d.id = ANY($1::uuid[]) AND d.status <> 'pending'
), next AS (
    SELECT DISTINCT ON (done.partner_id, done.payment_id) w.id
    FROM done
    JOIN payment_events e ON e.payment_id = done.payment_id AND e.sequence > done.sequence
    JOIN webhook_deliveries w ON w.event_id = e.id AND w.partner_id = done.partner_id
    WHERE w.status = 'pending'
    ORDER BY done.partner_id, done.payment_id, e.sequence
)
UPDATE webhook_deliveries d SET held = NULL, due_at = now(), updated_at = now()
FROM next WHERE d.id = next.id AND d.held = 'ordering'
"""

# The maintenance pass's safety net: a waiting delivery whose earlier events are all finished is due
# (covers a fan-out that raced with the release of its predecessor, and replays).
_RELEASE_UNBLOCKED = """
UPDATE webhook_deliveries d SET held = NULL, due_at = now(), updated_at = now()
WHERE d.id IN (
    SELECT w.id FROM webhook_deliveries w JOIN payment_events e ON e.id = w.event_id
    WHERE w.status = 'pending' AND w.held = 'ordering'
      AND NOT EXISTS (
          SELECT 1 FROM payment_events pe JOIN webhook_deliveries pd ON pd.event_id = pe.id
          WHERE pe.payment_id = e.payment_id AND pe.sequence < e.sequence
            AND pd.partner_id = w.partner_id AND pd.status = 'pending'
      )
    LIMIT $1
)
"""

# A disabled partner's deliveries wait for it to be enabled again. One on the wire right now stays
# held when its result is recorded (unless it was delivered or given up).
_HOLD_PARTNER = """
UPDATE webhook_deliveries SET held = 'disabled', due_at = $2, updated_at = now()
WHERE partner_id = $1 AND status = 'pending' AND (held IS NULL OR held = 'ordering')
"""

_HOLD = """
UPDATE webhook_deliveries
SET held = 'disabled', due_at = $3, leased_by = NULL, updated_at = now()
WHERE id = ANY($1::uuid[]) AND leased_by = $2 AND status = 'pending'
"""

_RESUME_PARTNER = """
UPDATE webhook_deliveries SET held = NULL, due_at = now(), leased_by = NULL, updated_at = now()
WHERE partner_id = $1 AND status = 'pending' AND held = 'disabled'
"""

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

_MARK_FANNED_OUT = "UPDATE payment_events SET fanned_out_at = now() WHERE id = ANY($1::uuid[])"

_POSTPONE_FAN_OUT = """
UPDATE payment_events
SET fan_out_attempts = fan_out_attempts + 1,
    fan_out_due_at = now() + make_interval(secs => least($2::float8, power(2, fan_out_attempts)))
WHERE id = ANY($1::uuid[])
"""

# Candidates are read in due order and at most ``allowance`` per partner are kept; only those are then
# locked (``SKIP LOCKED``: another worker's claim in progress is passed over) and leased. Locking writes
# to every row it touches, so rows beyond a partner's allowance are never locked. ``= ANY(ARRAY(...))``
# keeps the lock step a primary-key lookup: as ``IN (subquery)`` the generic plan of this prepared
# statement (LIMIT $1 unknown) became a hashed semi-join over the whole table (bench: PostgreSQL CPU
# per delivery 0.1 -> 1.7 ms with ten partners). A row another worker
# leased after this statement's snapshot fails the re-checked ``due_at <= now()`` and is not taken.
_CLAIM_DELIVERIES = """
WITH candidates AS (
    SELECT id, partner_id, due_at FROM webhook_deliveries
    WHERE status = 'pending' AND due_at <= now() AND NOT (partner_id = ANY($4::uuid[]))
    ORDER BY due_at
    LIMIT $1
), held(partner_id, allowance) AS (
    SELECT * FROM unnest($5::uuid[], $6::int[])
), ranked AS (
    SELECT c.id, row_number() OVER (PARTITION BY c.partner_id ORDER BY c.due_at) AS rn,
           coalesce(h.allowance, $7::int) AS allowance
    FROM candidates c LEFT JOIN held h ON h.partner_id = c.partner_id
), locked AS (
    SELECT d.id FROM webhook_deliveries d
    WHERE d.id = ANY(ARRAY(SELECT id FROM ranked WHERE rn <= allowance))
      AND d.status = 'pending' AND d.due_at <= now()
    FOR UPDATE SKIP LOCKED
)
UPDATE webhook_deliveries d
SET due_at = now() + make_interval(secs => $2::float8), leased_by = $3, updated_at = now()
FROM locked l, payment_events e
WHERE d.id = l.id AND e.id = d.event_id
RETURNING d.id, d.event_id, d.partner_id, d.attempt_count, d.throttled_count, e.type, e.created_at,
          e.sequence, e.data::text AS data, e.request_id
"""

_FAILED = "(r.status_code IS NULL OR NOT r.status_code BETWEEN 200 AND 299)"
_HISTOGRAM = ", ".join(f"count(*) FILTER (WHERE r.duration_ms <= {bound})" for bound in LATENCY_BOUNDS_MS)

# One statement records a batch of attempts, moves their deliveries on, clears the failures of
# partners that succeeded and adds the attempts to their partners' minutes in ``delivery_rollups``
# (grouped first: ON CONFLICT may touch a row once; in key order, so two writers lock rows alike).
_RECORD_ATTEMPTS = f"""
WITH r AS (
    SELECT * FROM unnest(
        $1::uuid[], $2::int[], $3::timestamptz[], $4::int[], $5::int[], $6::text[], $7::text[],
        $8::text[], $9::float8[], $10::text[], $12::bool[]
    ) AS r(id, attempt_number, started_at, duration_ms, status_code, excerpt, error, status, delay, url,
           throttled)
), moved AS (
    UPDATE webhook_deliveries d
    SET status = r.status,
        attempt_count = r.attempt_number,
        throttled_count = d.throttled_count + CASE WHEN r.throttled THEN 1 ELSE 0 END,
        -- a delivery held while it was on the wire (its partner was disabled) stays held
        due_at = CASE WHEN r.status = 'pending' AND d.held IS NULL THEN now() + make_interval(secs => r.delay)
                      ELSE d.due_at END,
        held = CASE WHEN r.status = 'pending' THEN d.held END,
        leased_by = NULL,
        last_status_code = r.status_code,
        last_error = r.error,
        delivered_at = CASE WHEN r.status = 'succeeded' THEN now() ELSE d.delivered_at END,
        url = r.url,
        updated_at = now()
    FROM r
    WHERE d.id = r.id AND d.leased_by = $11 AND d.status = 'pending'
    RETURNING d.id, d.partner_id, d.status
), healthy AS (
    -- a success clears the partner's failures (the health policy); no row, no write
    UPDATE endpoint_health h SET consecutive_failures = 0, failing_since = NULL, updated_at = now()
    WHERE h.partner_id IN (SELECT partner_id FROM moved WHERE status = 'succeeded')
      AND h.consecutive_failures > 0
), rolled AS (
    INSERT INTO delivery_rollups AS t
        (partner_id, minute, attempts, succeeded, latency_le, max_ms, last_failure_at, last_failure)
    SELECT moved.partner_id, date_trunc('minute', r.started_at), count(*),
           count(*) FILTER (WHERE NOT {_FAILED}), ARRAY[{_HISTOGRAM}]::int[], max(r.duration_ms),
           max(r.started_at) FILTER (WHERE {_FAILED}),
           (array_agg(coalesce(r.error, 'HTTP ' || r.status_code) ORDER BY r.started_at DESC)
                FILTER (WHERE {_FAILED}))[1]
    FROM r JOIN moved ON moved.id = r.id
    GROUP BY 1, 2
    ORDER BY 1, 2
    ON CONFLICT (partner_id, minute) DO UPDATE
    SET attempts = t.attempts + excluded.attempts,
        succeeded = t.succeeded + excluded.succeeded,
        latency_le = ARRAY(SELECT x + y FROM unnest(t.latency_le, excluded.latency_le) WITH ORDINALITY
                           AS u(x, y, i) ORDER BY i),
        max_ms = greatest(t.max_ms, excluded.max_ms),
        last_failure = CASE WHEN t.last_failure_at IS NULL OR excluded.last_failure_at > t.last_failure_at
                            THEN excluded.last_failure ELSE t.last_failure END,
        last_failure_at = greatest(t.last_failure_at, excluded.last_failure_at)
)
INSERT INTO delivery_attempts
    (delivery_id, attempt_number, started_at, duration_ms, status_code, response_excerpt, error, worker)
SELECT r.id, r.attempt_number, r.started_at, r.duration_ms, r.status_code, r.excerpt, r.error, $11
FROM r JOIN moved ON moved.id = r.id
"""  # noqa: S608 (this module's constants)

_RELEASE = """
UPDATE webhook_deliveries
SET due_at = CASE WHEN held IS NULL THEN now() + make_interval(secs => $3::float8) ELSE due_at END,
    leased_by = NULL, updated_at = now()
WHERE id = ANY($1::uuid[]) AND leased_by = $2 AND status = 'pending'
"""

_RELEASE_ALL = """
UPDATE webhook_deliveries
SET due_at = CASE WHEN held IS NULL THEN now() ELSE due_at END, leased_by = NULL, updated_at = now()
WHERE leased_by = $1 AND status = 'pending'
"""

_CANCEL = """
UPDATE webhook_deliveries SET status = 'canceled', leased_by = NULL, last_error = $3, updated_at = now()
WHERE id = ANY($1::uuid[]) AND leased_by = $2 AND status = 'pending'
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


async def claim_events(conn: Connection, limit: int) -> list[Record]:
    return await conn.fetch(_CLAIM_EVENTS, limit)


async def insert_deliveries(conn: Connection, rows: Sequence[tuple[UUID, UUID, str]]) -> None:
    if rows:
        event_ids, partner_ids, urls = zip(*rows, strict=True)
        await conn.execute(_INSERT_DELIVERIES, list(event_ids), list(partner_ids), list(urls))


async def insert_ordered_deliveries(
    conn: Connection, rows: Sequence[tuple[UUID, UUID, str, UUID, int]]
) -> None:
    """``rows``: (event id, partner id, url, payment id, sequence) for ordered partners."""
    if rows:
        columns = [list(column) for column in zip(*rows, strict=True)]
        await conn.execute(_INSERT_ORDERED_DELIVERIES, *columns, HELD_UNTIL)


async def release_next_in_order(conn: Connection, finished: Sequence[UUID]) -> None:
    if finished:
        await conn.execute(_RELEASE_NEXT_IN_ORDER, list(finished))


async def release_unblocked(conn: Connection, limit: int) -> int:
    result: str = await conn.execute(_RELEASE_UNBLOCKED, limit)
    return int(result.split()[-1])


async def hold(conn: Connection, worker: str, ids: Sequence[UUID]) -> None:
    if ids:
        await conn.execute(_HOLD, list(ids), worker, HELD_UNTIL)


async def hold_partner(conn: Connection, partner_id: UUID) -> None:
    await conn.execute(_HOLD_PARTNER, partner_id, HELD_UNTIL)


async def resume_partner(conn: Connection, partner_id: UUID) -> int:
    result: str = await conn.execute(_RESUME_PARTNER, partner_id)
    return int(result.split()[-1])


async def health_failed(conn: Connection, failures: Sequence[tuple[UUID, int, Any]]) -> list[Record]:
    """``failures``: (partner, failed attempts since its last success in this batch, the first one's
    time). Returns every such partner's row as it now is."""
    if not failures:
        return []
    columns = [list(column) for column in zip(*failures, strict=True)]
    return await conn.fetch(_HEALTH_FAILED, *columns)


async def forget_health(conn: Connection, partner_id: UUID) -> None:
    await conn.execute(_FORGET_HEALTH, partner_id)


async def purge_expired(conn: Connection, retention_seconds: float, batch: int) -> tuple[int, int]:
    """One batch of retention: (events purged, attempt bodies purged)."""
    row = await conn.fetchrow(_PURGE, retention_seconds, batch)
    return int(row["events"]), int(row["attempts"])


async def mark_fanned_out(conn: Connection, event_ids: Sequence[UUID]) -> None:
    if event_ids:
        await conn.execute(_MARK_FANNED_OUT, list(event_ids))


async def postpone_fan_out(conn: Connection, event_ids: Sequence[UUID], max_backoff: float) -> None:
    if event_ids:
        await conn.execute(_POSTPONE_FAN_OUT, list(event_ids), max_backoff)


async def claim_deliveries(
    conn: Connection,
    *,
    worker: str,
    limit: int,
    lease_seconds: float,
    excluded_partners: Sequence[UUID],
    allowances: dict[UUID, int],
    default_allowance: int,
) -> list[Record]:
    return await conn.fetch(
        _CLAIM_DELIVERIES,
        limit,
        lease_seconds,
        worker,
        list(excluded_partners),
        list(allowances),
        list(allowances.values()),
        default_allowance,
    )


async def record_attempts(conn: Connection, worker: str, rows: Sequence[Sequence[Any]]) -> None:
    """``rows``: (id, attempt_number, started_at, duration_ms, status_code, excerpt, error, new status,
    delay in seconds before the next attempt, url, throttled (429))."""
    if rows:
        columns = [list(column) for column in zip(*rows, strict=True)]
        await conn.execute(_RECORD_ATTEMPTS, *columns[:10], worker, columns[10])


async def release(conn: Connection, worker: str, ids: Sequence[UUID], delay: float = 0.0) -> None:
    if ids:
        await conn.execute(_RELEASE, list(ids), worker, delay)


async def release_all(conn: Connection, worker: str) -> str:
    result: str = await conn.execute(_RELEASE_ALL, worker)
    return result


async def cancel(conn: Connection, worker: str, ids: Sequence[UUID], reason: str) -> None:
    if ids:
        await conn.execute(_CANCEL, list(ids), worker, reason)


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
