"""``delivery_rollups``: what the dispatcher's outcome recorder adds per partner per minute equals the
aggregate of the attempts it recorded, as payment_ms's health and stats API answer it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.models import LATENCY_BOUNDS_MS
from tests.dispatcher.conftest import Received, Receiver, add_event, add_partner, fetch, respond
from tests.fixtures.services import TEST_SERVICE_TOKEN, RunningService
from tests.fixtures.waiting import eventually

TOKEN = {"X-Service-Token": TEST_SERVICE_TOKEN}

# The raw aggregate the rollups replace: every attempt of the partner since the minute.
RAW_HEALTH = """
SELECT d.partner_id, count(*) AS attempts,
       count(*) FILTER (WHERE a.status_code BETWEEN 200 AND 299) AS succeeded,
       percentile_disc(0.95) WITHIN GROUP (ORDER BY a.duration_ms) AS p95_ms,
       max(a.started_at) FILTER (WHERE a.status_code IS NULL OR NOT a.status_code BETWEEN 200 AND 299)
           AS last_failure_at,
       (array_agg(coalesce(a.error, 'HTTP ' || a.status_code) ORDER BY a.started_at DESC)
           FILTER (WHERE a.status_code IS NULL OR NOT a.status_code BETWEEN 200 AND 299))[1] AS last_failure
FROM delivery_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id
WHERE a.started_at >= :since
GROUP BY d.partner_id
"""
RAW_PER_MINUTE = """
SELECT date_trunc('minute', started_at) AS minute,
       count(*) FILTER (WHERE status_code BETWEEN 200 AND 299) AS succeeded,
       count(*) FILTER (WHERE status_code IS NULL OR NOT status_code BETWEEN 200 AND 299) AS failed
FROM delivery_attempts GROUP BY 1 ORDER BY 1
"""


def _slow_every_third() -> Any:
    """200 after 0, 30 or 120 ms in turn: the attempts spread over the histogram's buckets."""
    count = 0

    async def behaviour(_: Received) -> web.StreamResponse:
        nonlocal count
        count += 1
        await asyncio.sleep((0.0, 0.03, 0.12)[count % 3])  # the endpoint's latency, not a wait
        return web.Response(status=200)

    return behaviour


async def test_the_rollups_equal_the_aggregate_of_the_attempts(
    db_engine: AsyncEngine,
    receiver: Receiver,
    dispatch: Any,
    payment_ms: RunningService,
    http: httpx.AsyncClient,
) -> None:
    since = datetime.now(UTC).replace(second=0, microsecond=0)
    receiver.behaviours["flaky"] = respond(500, 503, 500, 404)  # then 200s
    receiver.behaviours["slow"] = _slow_every_third()
    flaky, _ = await add_partner(db_engine, receiver.url("flaky"))
    slow, _ = await add_partner(db_engine, receiver.url("slow"))
    async with dispatch():
        for _ in range(12):
            await add_event(db_engine, "payment.succeeded")

        async def finished() -> bool:
            done = "SELECT count(*) FILTER (WHERE status <> 'pending') AS done FROM webhook_deliveries"
            (row,) = await fetch(db_engine, done)
            return bool(row["done"] == 24)

        await eventually(finished, 20, "every delivery finished")

    raw = {row["partner_id"]: row for row in await fetch(db_engine, RAW_HEALTH, since=since)}
    assert set(raw) == {flaky, slow} and raw[flaky]["attempts"] > 12 and raw[flaky]["last_failure"]
    answer = await http.get(
        f"{payment_ms.url}/api/deliveries/health", params={"since": since.isoformat()}, headers=TOKEN
    )
    assert answer.status_code == 200, answer.text
    health = {item["partner_id"]: item for item in answer.json()["items"]}
    assert set(health) == {str(flaky), str(slow)}
    for partner_id, expected in raw.items():
        got = health[str(partner_id)]
        assert (got["attempts"], got["succeeded"]) == (expected["attempts"], expected["succeeded"])
        assert got["last_failure"] == expected["last_failure"]
        assert (got["last_failure_at"] is None) == (expected["last_failure_at"] is None)
        if expected["last_failure_at"] is not None:
            assert datetime.fromisoformat(got["last_failure_at"]) == expected["last_failure_at"]
        # the histogram's p95 is the bound of the bucket the exact p95 falls in (or the slowest attempt)
        bound = LATENCY_BOUNDS_MS.index(got["p95_ms"]) if got["p95_ms"] in LATENCY_BOUNDS_MS else None
        lower = LATENCY_BOUNDS_MS[bound - 1] if bound else -1
        assert lower < expected["p95_ms"] <= got["p95_ms"], (expected["p95_ms"], got["p95_ms"])
    assert health[str(slow)]["p95_ms"] >= 100, "the 120 ms answers are the slowest 5 %"

    stats = await http.get(f"{payment_ms.url}/api/deliveries/stats", params={"minutes": 60}, headers=TOKEN)
    per_minute = [
        (datetime.fromisoformat(m["minute"]), m["succeeded"], m["failed"]) for m in stats.json()["minutes"]
    ]
    raw_minutes = await fetch(db_engine, RAW_PER_MINUTE)
    assert per_minute == [(m["minute"], m["succeeded"], m["failed"]) for m in raw_minutes]
