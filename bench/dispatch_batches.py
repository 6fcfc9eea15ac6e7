"""What the dispatch scenarios commit and what they read back: batches of outbox events written exactly
as payment_ms writes them (a ``payment_events`` row and ``pg_notify`` in the same transaction), the wait
for the receiver's counts, and each partner's outcome (rates, latencies, signatures checked)."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import msgspec

from bench.seed import BenchPartner
from bench.stats import percentile
from payment_ms.payments.mapping import to_contract
from shared.outbox import NOTIFY_CHANNEL
from shared.webhooks import WebhookVerificationError, verify

NOTIFY = f"SELECT pg_notify('{NOTIFY_CHANNEL}', i::text) FROM unnest($1::uuid[]) AS i"
INSERT_EVENTS = """
INSERT INTO payment_events (id, payment_id, type, data, sequence)
SELECT i, p, 'payment.succeeded', d::jsonb,
       coalesce((SELECT max(sequence) FROM payment_events e WHERE e.payment_id = p), 0)
       + row_number() OVER (PARTITION BY p ORDER BY n)
FROM unnest($1::uuid[], $2::uuid[], $3::text[]) WITH ORDINALITY AS u(i, p, d, n)
"""
SEED_PAYMENTS = """
INSERT INTO payments (reservation_id, user_id, amount, currency, provider, status, description)
SELECT gen_random_uuid(), gen_random_uuid(), 1000 + n, 'EUR', 'mock', 'succeeded', 'bench payment'
FROM generate_series(1, $1) AS n
"""
# No progress for this long while waiting for receipts: the scenario is reported as incomplete.
STALL_SECONDS = 20.0
# A batch scenario waits at most this long plus one second per WAIT_RATE deliveries, so a dispatcher
# far below target still ends the run in time (the rate is then measured on what arrived).
WAIT_BASE_SECONDS = 30.0
WAIT_RATE = 250.0
# The ordered-delivery scenario: events per payment in its batch (each waits for the one before).
ORDERED_EVENTS_PER_PAYMENT = 4


def log(message: str) -> None:
    print(f"[bench] {message}", flush=True)


@dataclass
class Batch:
    """Events committed by the bench: id -> the wall-clock time their COMMIT was sent."""

    committed: dict[uuid.UUID, float]


# What the seeded rows look like once paid (the payload of a ``payment.succeeded``).
SUCCEEDED = {
    "status": "succeeded",
    "refunded_amount": 0,
    "metadata": {},
    "failure_reason": None,
    "confirmed_by": None,
    "confirmed_at": None,
}


async def payment_payloads(conn: asyncpg.Connection, count: int) -> list[tuple[uuid.UUID, str]]:
    """(payment id, ``data`` JSON) pairs from real payment rows, recycled when there are fewer rows."""
    rows = await conn.fetch("SELECT * FROM payments ORDER BY created_at LIMIT $1", count)
    if not rows:  # a run without the checkout scenario: make a few payment rows to point at
        await conn.execute(SEED_PAYMENTS, min(count, 2000))
        rows = await conn.fetch("SELECT * FROM payments ORDER BY created_at LIMIT $1", count)
    payloads = []
    for row in rows:
        payment = to_contract({**dict(row), **SUCCEEDED, "captured_amount": row["amount"]})
        payloads.append((row["id"], msgspec.json.encode(payment).decode()))
    return [payloads[i % len(payloads)] for i in range(count)]


async def commit_batch(conn: asyncpg.Connection, payloads: list[tuple[uuid.UUID, str]]) -> Batch:
    """All events in one transaction (one NOTIFY each): a backlog that appears at once."""
    ids = [uuid.uuid4() for _ in payloads]
    tx = conn.transaction()
    await tx.start()
    try:
        await conn.execute(INSERT_EVENTS, ids, [p for p, _ in payloads], [d for _, d in payloads])
        await conn.execute(NOTIFY, ids)
    except BaseException:
        await tx.rollback()
        raise
    sent = time.time()
    await tx.commit()
    return Batch(dict.fromkeys(ids, sent))


async def commit_paced(conn: asyncpg.Connection, payloads: list[tuple[uuid.UUID, str]], rate: float) -> Batch:
    """One event per transaction at ``rate`` per second on an absolute schedule (no drift)."""
    committed: dict[uuid.UUID, float] = {}
    start = time.monotonic()
    for index, (payment_id, data) in enumerate(payloads):
        delay = start + index / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        event_id = uuid.uuid4()
        tx = conn.transaction()
        await tx.start()
        await conn.execute(INSERT_EVENTS, [event_id], [payment_id], [data])
        await conn.execute(NOTIFY, [event_id])
        committed[event_id] = time.time()
        await tx.commit()
    return Batch(committed)


def receiver_counts(client: httpx.Client, base: str) -> dict[str, int]:
    return dict(client.get(f"{base}/counts").json()["received"])


def wait_for(client: httpx.Client, base: str, expected: dict[str, int], deadline_s: float) -> bool:
    """Until every partner received its expected count, or no progress for ``STALL_SECONDS``."""
    started = last_progress = time.monotonic()
    last_total = -1
    while True:
        counts = receiver_counts(client, base)
        if all(counts.get(name, 0) >= n for name, n in expected.items()):
            return True
        total = sum(counts.get(name, 0) for name in expected)
        now = time.monotonic()
        if total != last_total:
            last_total, last_progress = total, now
        if now - last_progress > STALL_SECONDS or now - started > deadline_s:
            return False
        time.sleep(0.05)


@dataclass
class PartnerOutcome:
    delivered: int
    duplicates: int
    rate: float
    steady_rate: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    seconds: float
    signatures_checked: int
    signature_errors: list[str]


def _check_signatures(samples: list[dict[str, Any]], secret: str) -> tuple[int, list[str]]:
    """Our verifier and, when installed, the independent ``standardwebhooks`` library."""
    errors = []
    try:
        from standardwebhooks.webhooks import Webhook
    except ImportError:  # the dev group is not installed
        Webhook = None  # type: ignore[assignment,misc]
    for sample in samples:
        body = str(sample["body"]).encode()
        headers = dict(sample["headers"])
        try:
            verify(secret, headers, body)
            if Webhook is not None:
                Webhook(secret).verify(body, headers)
        except (WebhookVerificationError, Exception) as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
    return len(samples), errors


def collect(client: httpx.Client, base: str, partner: BenchPartner, batch: Batch) -> PartnerOutcome:
    answer = client.get(f"{base}/receipts/{partner.name}").json()
    first: dict[uuid.UUID, float] = {}
    received = 0
    for msg_id, at in answer["receipts"]:
        with contextlib.suppress(ValueError):
            event_id = uuid.UUID(msg_id)
            if event_id in batch.committed:
                received += 1
                if event_id not in first or at < first[event_id]:
                    first[event_id] = at
    latencies = [first[e] - batch.committed[e] for e in first]
    t0 = min(batch.committed.values())
    arrivals = sorted(first.values())
    seconds = (arrivals[-1] - t0) if arrivals else 0.0
    spread = (arrivals[-1] - arrivals[0]) if len(arrivals) > 1 else 0.0
    checked, errors = _check_signatures(answer["samples"], partner.secret)
    return PartnerOutcome(
        delivered=len(first),
        duplicates=received - len(first),
        rate=len(first) / seconds if seconds > 0 else 0.0,
        steady_rate=(len(arrivals) - 1) / spread if spread > 0 else 0.0,
        p50_ms=percentile(latencies, 50) * 1000,
        p99_ms=percentile(latencies, 99) * 1000,
        max_ms=max(latencies, default=0.0) * 1000,
        seconds=seconds,
        signatures_checked=checked,
        signature_errors=errors,
    )


def cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {name: round(after[name] - before.get(name, 0.0), 3) for name in after}
