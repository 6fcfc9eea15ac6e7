"""What the dispatcher's queue tables look like around the latency scenario: their dead rows, who holds
an old snapshot, what the idle-path statements cost, and when the slowest events were committed."""

from __future__ import annotations

import contextlib
import time
import uuid
from typing import Any

import asyncpg
import httpx
import msgspec

from bench.dispatch_batches import Batch
from bench.seed import BenchPartner

# The dispatcher's idle-path statements, as it runs them, for the dead-entry diagnostic below.
HOT_STATEMENTS = {
    "fan-out claim": "SELECT id FROM payment_events WHERE fanned_out_at IS NULL AND fan_out_due_at <= now() "
    "ORDER BY created_at LIMIT 200 FOR UPDATE SKIP LOCKED",
    "seconds until due": "SELECT least((SELECT min(due_at) FROM webhook_deliveries "
    "WHERE status = 'pending'), (SELECT min(fan_out_due_at) FROM payment_events "
    "WHERE fanned_out_at IS NULL))",
    "due head": "SELECT id FROM webhook_deliveries WHERE status = 'pending' AND due_at <= now() "
    "ORDER BY due_at LIMIT 200",
}


async def table_state(conn: asyncpg.Connection) -> dict[str, Any]:
    """Dead rows of the two queue tables and what the dispatcher's idle-path statements cost right now
    (EXPLAIN ANALYZE, BUFFERS: execution ms and buffers touched): after a large batch the partial
    indexes hold the marked rows' entries until (auto)vacuum removes them."""
    rows = await conn.fetch(
        "SELECT relname, n_live_tup, n_dead_tup, autovacuum_count, vacuum_count, "
        "extract(epoch FROM last_autovacuum)::float8 AS last_autovacuum FROM pg_stat_user_tables "
        "WHERE relname IN ('payment_events', 'webhook_deliveries', 'delivery_attempts', 'delivery_rollups')"
    )
    state: dict[str, Any] = {row["relname"]: dict(row) for row in rows}
    checkpoints = await conn.fetchrow("SELECT num_timed, num_requested, num_done FROM pg_stat_checkpointer")
    state["checkpoints"] = dict(checkpoints) if checkpoints else {}
    state["at"] = time.time()
    # what keeps dead rows from being removable (a snapshot held open): the oldest xmin holders
    holders = await conn.fetch(
        "SELECT pid, client_port, application_name, state, age(backend_xmin) AS xmin_age, "
        "extract(epoch FROM now() - xact_start)::float8 AS xact_seconds, left(query, 80) AS query "
        "FROM pg_stat_activity WHERE backend_xmin IS NOT NULL AND pid <> pg_backend_pid() "
        "ORDER BY age(backend_xmin) DESC LIMIT 3"
    )
    state["oldest_snapshots"] = [dict(row) for row in holders]
    for name, sql in HOT_STATEMENTS.items():
        async with conn.transaction():
            plan = await conn.fetchval(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}")
        top = msgspec.json.decode(plan)[0] if isinstance(plan, str) else plan[0]
        buffers = top["Plan"].get("Shared Hit Blocks", 0) + top["Plan"].get("Shared Read Blocks", 0)
        state[name] = {"ms": round(top["Execution Time"], 3), "buffers": buffers}
    return state


def slowest(
    client: httpx.Client, base: str, partner: BenchPartner, batch: Batch
) -> list[tuple[float, float]]:
    """The 1 % slowest events: when (seconds after the first commit) and how slow (ms). Clustered in time
    they point at a stall (autovacuum, checkpoint); spread out, at a per-event cost."""
    first: dict[uuid.UUID, float] = {}
    for msg_id, at in client.get(f"{base}/receipts/{partner.name}").json()["receipts"]:
        with contextlib.suppress(ValueError):
            event_id = uuid.UUID(msg_id)
            if event_id in batch.committed and (event_id not in first or at < first[event_id]):
                first[event_id] = at
    t0 = min(batch.committed.values())
    slow = sorted(((first[e] - batch.committed[e]) * 1000, batch.committed[e] - t0) for e in first)
    return [(round(at, 2), round(ms, 1)) for ms, at in slow[-max(1, len(slow) // 100) :]]
