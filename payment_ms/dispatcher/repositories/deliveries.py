"""Fan-out and the delivery lease: events claimed into deliveries, deliveries claimed, recorded,
released, held and resumed (the hot loop: one round trip each)."""

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
# ``waits`` is computed once per row (MATERIALIZED: as a LATERAL used by two CASEs it was evaluated
# twice, each a probe per earlier event of the payment). Each earlier event's delivery is looked up by
# (event, partner) behind ``OFFSET 0``, checked for 'pending' outside: right after a large batch the
# statistics still say few rows are pending, and the planner then walked the whole pending index
# (``ix_webhook_deliveries_due``) once per probe instead.
_INSERT_ORDERED_DELIVERIES = """
WITH r AS (
    SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::uuid[], $5::int[])
        AS r(event_id, partner_id, url, payment_id, sequence)
), w AS MATERIALIZED (
    SELECT r.event_id, r.partner_id, r.url, EXISTS (
        SELECT 1 FROM r earlier
        WHERE earlier.partner_id = r.partner_id AND earlier.payment_id = r.payment_id
          AND earlier.sequence < r.sequence
    ) OR EXISTS (
        SELECT 1 FROM payment_events e, LATERAL (
            SELECT d.status FROM webhook_deliveries d
            WHERE d.event_id = e.id AND d.partner_id = r.partner_id OFFSET 0
        ) d
        WHERE e.payment_id = r.payment_id AND e.sequence < r.sequence AND d.status = 'pending'
    ) AS waits
    FROM r
)
INSERT INTO webhook_deliveries (event_id, partner_id, url, held, due_at)
SELECT event_id, partner_id, url, CASE WHEN waits THEN 'ordering' END,
       CASE WHEN waits THEN $6::timestamptz ELSE now() END
FROM w
ON CONFLICT (event_id, partner_id) DO NOTHING
RETURNING id, held
"""


# After the ordered insert committed: a row it made wait whose earlier events are all finished by now is
# due. Its predecessor's release may have run before the insert was visible to it and the insert may
# have seen the predecessor still pending; this statement sees both commits (the release, after its own
# commit, covers the opposite order), so no waiting delivery is left to the maintenance pass.
_RELEASE_IF_UNBLOCKED = """
UPDATE webhook_deliveries d SET held = NULL, due_at = now(), updated_at = now()
FROM payment_events e
WHERE d.id = ANY($1::uuid[]) AND d.held = 'ordering' AND d.status = 'pending' AND e.id = d.event_id
  AND NOT EXISTS (
      SELECT 1 FROM payment_events pe, LATERAL (
          SELECT w.status FROM webhook_deliveries w
          WHERE w.event_id = pe.id AND w.partner_id = d.partner_id OFFSET 0
      ) w
      WHERE pe.payment_id = e.payment_id AND pe.sequence < e.sequence AND w.status = 'pending'
  )
"""


# A delivery of an ordered partner is finished (delivered, given up, canceled): the next waiting event
# of the same payment, if any, is due now. The later events are walked in order and the walk stops at
# the first pending one (usually the very next event), not at the end of the payment's history; each
# event's delivery is looked up as in the ordered insert (the custom plan of a run with stale statistics
# walked every pending delivery per finished one: 650 ms per call).
_RELEASE_NEXT_IN_ORDER = """
WITH done AS (
    SELECT d.partner_id, e.payment_id, min(e.sequence) AS sequence
    FROM webhook_deliveries d JOIN payment_events e ON e.id = d.event_id
    WHERE d.id = ANY($1::uuid[]) AND d.status <> 'pending'
    GROUP BY d.partner_id, e.payment_id
), next AS (
    SELECT n.id FROM done, LATERAL (
        SELECT w.id FROM payment_events e, LATERAL (
            SELECT w.id, w.status FROM webhook_deliveries w
            WHERE w.event_id = e.id AND w.partner_id = done.partner_id OFFSET 0
        ) w
        WHERE e.payment_id = done.payment_id AND e.sequence > done.sequence AND w.status = 'pending'
        ORDER BY e.sequence
        LIMIT 1
    ) n
)
UPDATE webhook_deliveries d SET held = NULL, due_at = now(), updated_at = now()
FROM next WHERE d.id = next.id AND d.held = 'ordering'
"""


# The maintenance pass's safety net: a waiting delivery whose earlier events are all finished is due
# (covers a fan-out that raced with the release of its predecessor, and replays). That is the first
# pending delivery of its payment for its partner: one sorted pass over the ordered partners' pending
# rows. (Asking "is an earlier one pending?" of every waiting row cost a probe per earlier event each,
# minutes on a large ordered backlog, and a statement that long keeps every dead row from being removed.)
_RELEASE_UNBLOCKED = """
WITH heads AS (
    SELECT DISTINCT ON (w.partner_id, e.payment_id) w.id, w.held
    FROM webhook_deliveries w JOIN payment_events e ON e.id = w.event_id
    WHERE w.status = 'pending'
      AND w.partner_id IN (
          SELECT partner_id FROM webhook_deliveries WHERE status = 'pending' AND held = 'ordering'
      )
    ORDER BY w.partner_id, e.payment_id, e.sequence
)
UPDATE webhook_deliveries d SET held = NULL, due_at = now(), updated_at = now()
WHERE d.id IN (SELECT id FROM heads WHERE held = 'ordering' LIMIT $1) AND d.held = 'ordering'
  AND d.status = 'pending'
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


async def claim_events(conn: Connection, limit: int) -> list[Record]:
    return await conn.fetch(_CLAIM_EVENTS, limit)


async def insert_deliveries(conn: Connection, rows: Sequence[tuple[UUID, UUID, str]]) -> None:
    if rows:
        event_ids, partner_ids, urls = zip(*rows, strict=True)
        await conn.execute(_INSERT_DELIVERIES, list(event_ids), list(partner_ids), list(urls))


async def insert_ordered_deliveries(
    conn: Connection, rows: Sequence[tuple[UUID, UUID, str, UUID, int]]
) -> list[UUID]:
    """``rows``: (event id, partner id, url, payment id, sequence) for ordered partners; the ids of the
    deliveries it made wait (for ``release_if_unblocked`` once committed)."""
    if not rows:
        return []
    columns = [list(column) for column in zip(*rows, strict=True)]
    inserted = await conn.fetch(_INSERT_ORDERED_DELIVERIES, *columns, HELD_UNTIL)
    return [row["id"] for row in inserted if row["held"] == "ordering"]


async def release_if_unblocked(conn: Connection, waiting: Sequence[UUID]) -> None:
    if waiting:
        await conn.execute(_RELEASE_IF_UNBLOCKED, list(waiting))


async def release_next_in_order(conn: Connection, finished: Sequence[UUID]) -> None:
    if finished:
        await conn.execute(_RELEASE_NEXT_IN_ORDER, list(finished))


async def release_unblocked(conn: Connection, limit: int, cancel_after: float | None = None) -> int:
    """``cancel_after``: seconds, then the statement is cancelled (its snapshot holds back vacuum)."""
    result: str = await conn.execute(_RELEASE_UNBLOCKED, limit, timeout=cancel_after)
    return int(result.split()[-1])


async def hold(conn: Connection, worker: str, ids: Sequence[UUID]) -> None:
    if ids:
        await conn.execute(_HOLD, list(ids), worker, HELD_UNTIL)


async def hold_partner(conn: Connection, partner_id: UUID) -> None:
    await conn.execute(_HOLD_PARTNER, partner_id, HELD_UNTIL)


async def resume_partner(conn: Connection, partner_id: UUID) -> int:
    result: str = await conn.execute(_RESUME_PARTNER, partner_id)
    return int(result.split()[-1])


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
