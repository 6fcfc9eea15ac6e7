"""``/api/events`` and ``/api/deliveries`` on the real payment_ms: filters, attempts, replays, errors."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.dispatcher.conftest import Receiver, add_event, add_partner, fetch, respond
from tests.fixtures.services import TEST_SERVICE_TOKEN, RunningService
from tests.fixtures.waiting import eventually

TOKEN = {"X-Service-Token": TEST_SERVICE_TOKEN}


async def test_events_are_listed_with_filters_and_pages(
    db_engine: AsyncEngine, payment_ms: RunningService, http: httpx.AsyncClient
) -> None:
    payment_id, created = await add_event(db_engine, "payment.created")
    _, succeeded = await add_event(db_engine, "payment.succeeded", payment_id)
    await add_event(db_engine, "payment.created")

    url = f"{payment_ms.url}/api/events"
    everything = (await http.get(url, headers=TOKEN)).json()
    assert len(everything["items"]) == 3 and everything["next_cursor"] is None

    mine = (await http.get(url, params={"payment_id": str(payment_id)}, headers=TOKEN)).json()
    assert [e["id"] for e in mine["items"]] == [str(succeeded), str(created)]
    assert mine["items"][0]["data"]["id"] == str(payment_id)

    typed = (await http.get(url, params={"type": "payment.succeeded"}, headers=TOKEN)).json()
    assert [e["id"] for e in typed["items"]] == [str(succeeded)]

    later = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    assert (await http.get(url, params={"created_from": later}, headers=TOKEN)).json()["items"] == []

    first = (await http.get(url, params={"limit": 2}, headers=TOKEN)).json()
    second = (await http.get(url, params={"limit": 2, "cursor": first["next_cursor"]}, headers=TOKEN)).json()
    seen = [e["id"] for e in first["items"] + second["items"]]
    assert len(seen) == 3 == len(set(seen)) and second["next_cursor"] is None


async def test_bad_requests_are_problems_and_the_token_is_required(
    payment_ms: RunningService, http: httpx.AsyncClient
) -> None:
    base = payment_ms.url
    for path in ("/api/events", "/api/deliveries", f"/api/deliveries/{uuid.uuid4()}"):
        unauthenticated = await http.get(base + path)
        assert unauthenticated.status_code == 401
        assert unauthenticated.headers["content-type"].startswith("application/problem+json")
    cases = [
        ("GET", "/api/deliveries", {"status": "bogus"}, None, 400),
        ("GET", "/api/events", {"type": "payment.exploded"}, None, 400),
        ("GET", "/api/events", {"cursor": "not-a-cursor"}, None, 400),
        ("GET", "/api/deliveries", {"limit": "0"}, None, 400),
        ("GET", f"/api/deliveries/{uuid.uuid4()}", None, None, 404),
        ("POST", f"/api/deliveries/{uuid.uuid4()}/replay", None, None, 404),
        ("POST", "/api/deliveries/replay", None, {"partner_id": "x", "since": "yesterday"}, 400),
        ("POST", "/api/deliveries/replay", None, {"partner_id": str(uuid.uuid4())}, 400),
    ]
    for method, path, params, body, status in cases:
        response = await http.request(method, base + path, params=params, json=body, headers=TOKEN)
        assert response.status_code == status, (path, params, body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_deliveries_with_attempts_and_replays(
    db_engine: AsyncEngine,
    payment_ms: RunningService,
    http: httpx.AsyncClient,
    receiver: Receiver,
    dispatch: Callable[..., Any],
) -> None:
    receiver.behaviours["bad"] = respond(500, 500)
    bad, _ = await add_partner(db_engine, receiver.url("bad"))
    good, _ = await add_partner(db_engine, receiver.url("good"))
    url = f"{payment_ms.url}/api/deliveries"

    async def listed(**params: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = (await http.get(url, params=params, headers=TOKEN)).json()["items"]
        return items

    async with dispatch(retry_schedule_seconds=[]):
        _, event_id = await add_event(db_engine)
        [failed] = await eventually(lambda: listed(status="failed"), what="a failed delivery")
        await eventually(lambda: listed(status="succeeded"), what="a succeeded delivery")

        assert failed["partner_id"] == str(bad) and failed["event_id"] == str(event_id)
        assert [d["partner_id"] for d in await listed(partner_id=str(good))] == [str(good)]
        assert len(await listed(event_id=str(event_id))) == 2

        detail = (await http.get(f"{url}/{failed['id']}", headers=TOKEN)).json()
        assert detail["event_type"] == "payment.succeeded"
        [attempt] = detail["attempts"]
        assert attempt["status_code"] == 500 and attempt["response_excerpt"] == "answer 500"
        assert attempt["duration_ms"] >= 0 and attempt["error"] == "HTTP 500" and attempt["worker"]

        # Replay one: it is sent again at once and fails again (the receiver still says 500).
        replay = await http.post(f"{url}/{failed['id']}/replay", headers=TOKEN)
        assert replay.status_code == 202 and replay.json()["status"] == "pending"
        await receiver.wait_count("bad", 2)
        await eventually(lambda: listed(status="failed"), what="failed again")

        # Replay everything failed for the partner since a time: now it succeeds.
        since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
        body = {"partner_id": str(bad), "since": since}
        bulk = await http.post(f"{url}/replay", json=body, headers=TOKEN)
        assert bulk.status_code == 202 and bulk.json() == {"replayed": 1}
        await eventually(
            lambda: listed(partner_id=str(bad), status="succeeded"), what="the replay to succeed"
        )
        nothing_left = await http.post(f"{url}/replay", json=body, headers=TOKEN)
        assert nothing_left.json() == {"replayed": 0}

    rows = await fetch(db_engine, "SELECT attempt_number, status_code FROM delivery_attempts ORDER BY id")
    assert sorted(r["status_code"] for r in rows) == [200, 200, 500, 500]


async def test_a_delivery_held_by_a_worker_is_not_replayed(
    db_engine: AsyncEngine, payment_ms: RunningService, http: httpx.AsyncClient, receiver: Receiver
) -> None:
    partner_id, _ = await add_partner(db_engine, receiver.url("held"))
    _, event_id = await add_event(db_engine)
    async with db_engine.begin() as conn:
        delivery_id = await conn.scalar(
            text(
                "INSERT INTO webhook_deliveries (event_id, partner_id, url, leased_by, due_at)"
                " VALUES (:e, :p, 'http://127.0.0.1/held', 'another-worker', now() + interval '1 minute')"
                " RETURNING id"
            ),
            {"e": event_id, "p": partner_id},
        )
    response = await http.post(f"{payment_ms.url}/api/deliveries/{delivery_id}/replay", headers=TOKEN)
    assert response.status_code == 409
    [row] = await fetch(db_engine, "SELECT leased_by FROM webhook_deliveries WHERE id = :id", id=delivery_id)
    assert row["leased_by"] == "another-worker"
