"""Test sends (admin API and ``paygate partners test``) against endpoints answering 204, 500 and nothing;
bounded replay windows with and without ``--all``; ``paygate deliveries list|show``. The commands run
in this process, in a thread (they run their own event loop)."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from aiohttp import web
from sqlalchemy import func, text
from sqlalchemy.ext.asyncio import AsyncEngine
from standardwebhooks import Webhook

from payment_ms.dispatcher.settings import DispatcherSettings
from payment_ms.dispatcher.test_send import send_test_event
from shared.embedded_pg import free_port
from shared.events import CATALOG
from shared.webhooks import generate_secret
from tests.dispatcher.conftest import Receiver, add_delivery, add_event, add_partner, fetch
from tests.fixtures.services import TEST_SERVICE_TOKEN, RunningService
from tests.gateway.conftest import MakeAccount, make_account  # noqa: F401  (fixture)
from tests.ops.conftest import Paygate, paygate_inproc  # noqa: F401  (fixture)

TOKEN = {"X-Service-Token": TEST_SERVICE_TOKEN}


async def test_a_test_send_answers_with_the_attempt_and_is_stored_as_a_test_delivery(
    db_engine: AsyncEngine,
    receiver: Receiver,
    gateway: RunningService,
    payment_ms: RunningService,
    http: httpx.AsyncClient,
    make_account: MakeAccount,  # noqa: F811
) -> None:
    receiver.behaviours["ok"] = lambda _: _answer(204, "")
    receiver.behaviours["broken"] = lambda _: _answer(500, "x" * 5000)
    admin = await make_account("admin")
    ok, ok_secret = await add_partner(db_engine, receiver.url("ok"))
    broken, _ = await add_partner(db_engine, receiver.url("broken"))
    nobody, _ = await add_partner(db_engine, f"http://127.0.0.1:{free_port()}/hooks")

    def test(partner_id: uuid.UUID, **body: str) -> Any:
        url = f"{gateway.url}/admin/partners/{partner_id}/test"
        return http.post(url, json=body or None, headers=admin.headers)

    answer = await test(ok, type="payment.refunded")
    assert answer.status_code == 200, answer.text
    sent = answer.json()
    assert sent["delivered"] is True and sent["status_code"] == 204 and sent["error"] is None
    assert sent["webhook_id"].startswith("test_") and sent["duration_ms"] >= 0
    (got,) = receiver.at("ok")
    Webhook(ok_secret).verify(got.body, got.headers)
    body = json.loads(got.body)
    assert body["type"] == "payment.refunded" and body["sequence"] == 1
    assert body["data"]["status"] == CATALOG["payment.refunded"].example["status"]  # the catalog's example
    assert body["data"]["description"] == "paygate test event" and got.msg_id == sent["webhook_id"]

    failed = (await test(broken)).json()
    assert failed["delivered"] is False and failed["status_code"] == 500 and failed["error"] == "HTTP 500"
    assert failed["response_excerpt"] == "x" * 2048, "the first 2 KB of the answer"
    unreachable = (await test(nobody)).json()
    assert unreachable["delivered"] is False and unreachable["status_code"] is None
    assert "Connect" in unreachable["error"]
    assert (await test(uuid.uuid4())).status_code == 404
    bad = await test(ok, type="payment.exploded")
    assert bad.status_code == 400 and bad.headers["content-type"].startswith("application/problem+json")
    await _the_test_sends_are_stored(http, gateway, payment_ms, admin.headers, ok, sent, failed, unreachable)


async def _the_test_sends_are_stored(
    http: httpx.AsyncClient,
    gateway: RunningService,
    payment_ms: RunningService,
    admin: dict[str, str],
    ok: uuid.UUID,
    sent: dict[str, Any],
    failed: dict[str, Any],
    unreachable: dict[str, Any],
) -> None:
    """Each test send is a delivery marked test with its attempt, in the delivery lists; it is never
    sent again, not in the health figures, and its event is in no event list nor the pull feed."""
    stored = (await http.get(f"{gateway.url}/admin/deliveries", headers=admin)).json()["items"]
    assert {d["id"] for d in stored} == {
        sent["delivery_id"],
        failed["delivery_id"],
        unreachable["delivery_id"],
    }
    assert all(d["test"] for d in stored)
    mine = (await http.get(f"{gateway.url}/admin/deliveries/{sent['delivery_id']}", headers=admin)).json()
    assert (mine["partner_id"], mine["status"], mine["event_type"]) == (
        str(ok),
        "succeeded",
        "payment.refunded",
    )
    (attempt,) = mine["attempts"]
    assert attempt["status_code"] == 204 and attempt["duration_ms"] == sent["duration_ms"]
    assert sent["webhook_id"] == f"test_{uuid.UUID(mine['event_id']).hex}"
    broken = (await http.get(f"{gateway.url}/admin/deliveries/{failed['delivery_id']}", headers=admin)).json()
    assert broken["status"] == "failed" and broken["attempts"][0]["response_excerpt"] == "x" * 2048

    replay = await http.post(f"{gateway.url}/admin/deliveries/{sent['delivery_id']}/replay", headers=admin)
    assert replay.status_code == 409 and "test send" in replay.json()["detail"]
    window = {
        "partner_id": str(ok),
        "since": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
        "all": True,
    }
    replayed = await http.post(f"{payment_ms.url}/api/deliveries/replay", json=window, headers=TOKEN)
    assert replayed.status_code == 202 and replayed.json()["replayed"] == 0, replayed.text
    assert await fetch_pending(http, payment_ms) == 0, "nothing for the dispatcher to send"
    health = (await http.get(f"{payment_ms.url}/api/deliveries/health", headers=TOKEN)).json()
    assert health["items"] == [], "test sends are not in the health figures"
    assert (await http.get(f"{gateway.url}/admin/events", headers=admin)).json()["items"] == []
    feed = {"type": "payment.refunded", "settle_seconds": "0"}
    got = (await http.get(f"{payment_ms.url}/api/events/feed", params=feed, headers=TOKEN)).json()
    assert got["items"] == [], "a test event is not an event of the pull feed"


async def fetch_pending(http: httpx.AsyncClient, payment_ms: RunningService) -> int:
    answer = await http.get(f"{payment_ms.url}/api/deliveries", params={"status": "pending"}, headers=TOKEN)
    return len(answer.json()["items"])


async def test_a_test_send_to_an_endpoint_that_never_answers_times_out(receiver: Receiver) -> None:
    release = receiver.hold("silent")
    settings = DispatcherSettings(_env_file=None, request_timeout_seconds=0.3)  # type: ignore[call-arg]
    try:
        result = await send_test_event(
            receiver.url("silent"),
            [generate_secret()],
            "payment.succeeded",
            settings=settings,
            allow_loopback=True,
        )
    finally:
        release.set()
    assert result.result.delivered is False and result.result.status_code is None
    assert result.result.error == "timeout" and result.result.duration_ms >= 300


async def _answer(status: int, body: str) -> web.StreamResponse:
    return web.Response(status=status, text=body)


async def test_the_test_command_prints_the_attempt(
    db_engine: AsyncEngine,
    receiver: Receiver,
    paygate_inproc: Paygate,  # noqa: F811
) -> None:
    partner_id, secret = await add_partner(db_engine, receiver.url("cli"))
    done = await asyncio.to_thread(
        paygate_inproc, "partners", "test", str(partner_id), "--type", "payment.failed"
    )
    assert done.code == 0, done.output
    assert "delivered (200)" in done.out
    (got,) = receiver.at("cli")
    Webhook(secret).verify(got.body, got.headers)
    assert json.loads(got.body)["type"] == "payment.failed"
    receiver.behaviours["cli"] = lambda _: _answer(503, "busy")
    refused = await asyncio.to_thread(paygate_inproc, "partners", "test", str(partner_id))
    assert refused.code == 1 and "NOT delivered (503)" in refused.out and "HTTP 503" in refused.out
    listed = await asyncio.to_thread(paygate_inproc, "deliveries", "list", "--partner", str(partner_id))
    assert listed.code == 0 and listed.out.count("test:") == 2, listed.output  # both, stored by the command
    assert "test:failed" in listed.out and "test:succeeded" in listed.out


async def test_a_bounded_replay_window_with_and_without_all(
    db_engine: AsyncEngine,
    paygate_inproc: Paygate,  # noqa: F811
) -> None:
    partner_id, _ = await add_partner(db_engine, "https://partner.example/hooks")
    other, _ = await add_partner(db_engine, "https://other.example/hooks")
    now = datetime.now(UTC).replace(microsecond=0)
    rows = {
        name: await _delivery(db_engine, partner, status, now - timedelta(hours=hours))
        for name, partner, status, hours in [
            ("failed_before", partner_id, "failed", 30),
            ("failed_inside", partner_id, "failed", 10),
            ("canceled_inside", partner_id, "canceled", 8),
            ("succeeded_inside", partner_id, "succeeded", 6),
            ("pending_inside", partner_id, "pending", 5),
            ("failed_at_until", partner_id, "failed", 2),
            ("other_partner", other, "failed", 10),
        ]
    }
    since = (now - timedelta(hours=12)).isoformat()
    until = (now - timedelta(hours=2)).isoformat()
    window = ["--partner", str(partner_id), "--since", since, "--until", until]

    failed_only = await asyncio.to_thread(paygate_inproc, "deliveries", "replay", *window)
    assert failed_only.code == 0, failed_only.output
    assert failed_only.out.startswith("2 failed or canceled deliveries")
    assert await _due(db_engine, rows) == {"failed_inside", "canceled_inside", "pending_inside"}

    await _reset(db_engine, rows, "failed_inside", "failed")
    await _reset(db_engine, rows, "canceled_inside", "canceled")
    every = await asyncio.to_thread(paygate_inproc, "deliveries", "replay", *window, "--all")
    assert every.code == 0 and every.out.startswith("3 finished"), every.output
    assert await _due(db_engine, rows) == {
        "failed_inside",
        "canceled_inside",
        "succeeded_inside",
        "pending_inside",
    }
    backwards = await asyncio.to_thread(
        paygate_inproc, "deliveries", "replay", *window[:2], "--since", until, "--until", since
    )
    assert backwards.code == 1 and "until must be later than since" in backwards.err

    listed = await asyncio.to_thread(
        paygate_inproc, "deliveries", "list", "--partner", str(partner_id), "--state", "failed"
    )
    assert listed.code == 0, listed.output
    assert str(rows["failed_before"]) in listed.out and str(rows["other_partner"]) not in listed.out
    assert str(rows["failed_inside"]) not in listed.out  # pending again
    shown = await asyncio.to_thread(paygate_inproc, "deliveries", "show", str(rows["failed_before"]))
    assert shown.code == 0 and "#1" in shown.out and "HTTP 500" in shown.out, shown.output


async def _delivery(engine: AsyncEngine, partner: uuid.UUID, status: str, created: datetime) -> uuid.UUID:
    _, event_id = await add_event(engine)
    async with engine.begin() as conn:
        attempt = {"started_at": created, "duration_ms": 40, "status_code": 500, "error": "HTTP 500"}
        return await add_delivery(
            conn,
            event_id,
            partner,
            attempt,
            status=status,
            created_at=created,
            due_at=func.now() + timedelta(days=1),
        )


async def _due(engine: AsyncEngine, rows: dict[str, uuid.UUID]) -> set[str]:
    """The deliveries that are pending and due now or on their way (a replay makes them due now)."""
    pending = await fetch(engine, "SELECT id, due_at FROM webhook_deliveries WHERE status = 'pending'")
    return {name for name, delivery_id in rows.items() if delivery_id in {r["id"] for r in pending}}


async def _reset(engine: AsyncEngine, rows: dict[str, uuid.UUID], name: str, status: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE webhook_deliveries SET status = :s WHERE id = :id"), {"s": status, "id": rows[name]}
        )
