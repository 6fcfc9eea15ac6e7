"""Events become signed webhooks that an independent Standard Webhooks library verifies; failures are
retried on the configured schedule; every attempt is recorded."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine
from standardwebhooks import Webhook

from payment_ms.dispatcher import replay_delivery
from shared.webhooks import generate_secret
from tests.dispatcher.conftest import (
    Received,
    Receiver,
    add_event,
    add_partner,
    fetch,
    respond,
    two_events_received,
)
from tests.fixtures.waiting import eventually


async def delivery_rows(engine: AsyncEngine) -> list[dict[str, Any]]:
    return await fetch(engine, "SELECT * FROM webhook_deliveries ORDER BY created_at")


async def attempts_of(engine: AsyncEngine, delivery_id: Any) -> list[dict[str, Any]]:
    return await fetch(
        engine,
        "SELECT * FROM delivery_attempts WHERE delivery_id = :id ORDER BY attempt_number",
        id=delivery_id,
    )


async def settled(engine: AsyncEngine, status: str, count: int = 1) -> list[dict[str, Any]]:
    async def check() -> list[dict[str, Any]]:
        rows = [r for r in await delivery_rows(engine) if r["status"] == status]
        return rows if len(rows) >= count else []

    return await eventually(check, what=f"{count} {status} deliveries")


async def test_event_is_delivered_signed_and_verifies_with_an_independent_library(
    db_engine: AsyncEngine, receiver: Receiver, dispatch: Callable[..., Any]
) -> None:
    subscribed, secret = await add_partner(db_engine, receiver.url("a"), ("payment.succeeded",))
    await add_partner(db_engine, receiver.url("other"), ("payment.failed",))
    async with dispatch():
        payment_id, event_id = await add_event(db_engine, "payment.succeeded")
        (got,) = await receiver.wait_count("a", 1)
        [delivery] = await settled(db_engine, "succeeded")

    payload = Webhook(secret).verify(got.body, got.headers)
    assert payload["type"] == "payment.succeeded"
    assert payload["data"]["id"] == str(payment_id)
    assert payload["data"]["amount"] == 2500 and payload["data"]["currency"] == "EUR"
    datetime.fromisoformat(payload["timestamp"])
    assert got.headers["webhook-id"] == str(event_id)
    assert got.headers["content-type"] == "application/json"
    with pytest.raises(Exception, match="signature"):
        Webhook(secret).verify(got.body + b" ", got.headers)

    # Only the subscriber got a delivery; the attempt is on record.
    assert [d["partner_id"] for d in await delivery_rows(db_engine)] == [subscribed]
    assert delivery["attempt_count"] == 1 and delivery["leased_by"] is None
    assert delivery["delivered_at"] is not None and delivery["last_status_code"] == 200
    [attempt] = await attempts_of(db_engine, delivery["id"])
    assert attempt["status_code"] == 200 and attempt["response_excerpt"] == "ok" and attempt["error"] is None
    [event] = await fetch(db_engine, "SELECT fanned_out_at FROM payment_events WHERE id = :id", id=event_id)
    assert event["fanned_out_at"] is not None


async def test_rotated_secret_verifies_with_old_and_new_during_the_overlap(
    db_engine: AsyncEngine, receiver: Receiver, dispatch: Callable[..., Any]
) -> None:
    old, new = generate_secret(), generate_secret()
    await add_partner(
        db_engine,
        receiver.url("rotating"),
        secret=new,
        retired=[(old, datetime.now(UTC) + timedelta(hours=24))],
    )
    await add_partner(
        db_engine,
        receiver.url("expired"),
        secret=new,
        retired=[(old, datetime.now(UTC) - timedelta(seconds=1))],
    )
    async with dispatch():
        await add_event(db_engine)
        (during,) = await receiver.wait_count("rotating", 1)
        (after,) = await receiver.wait_count("expired", 1)

    assert len(during.headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(during.body, during.headers)
    Webhook(new).verify(during.body, during.headers)
    # Once the overlap is over only the new secret signs.
    Webhook(new).verify(after.body, after.headers)
    with pytest.raises(Exception, match="signature"):
        Webhook(old).verify(after.body, after.headers)


async def test_failures_are_retried_on_the_schedule_then_succeed(
    db_engine: AsyncEngine, receiver: Receiver, dispatch: Callable[..., Any]
) -> None:
    receiver.behaviours["flaky"] = respond(500, 502)
    await add_partner(db_engine, receiver.url("flaky"))
    async with dispatch(retry_schedule_seconds=[0.3, 2.0]):
        _, event_id = await add_event(db_engine)
        got = await receiver.wait_count("flaky", 3)
        [delivery] = await settled(db_engine, "succeeded")

    assert {r.msg_id for r in got} == {str(event_id)}
    # Each retry waits its own step: never earlier, and the first one well before the second step
    # (loose upper bounds: a deadline for a loaded machine, not a speed measurement).
    assert 0.3 * 0.95 <= got[1].at - got[0].at < 1.5
    assert 2.0 * 0.95 <= got[2].at - got[1].at < 2.0 + 5.0
    attempts = await attempts_of(db_engine, delivery["id"])
    assert [(a["attempt_number"], a["status_code"]) for a in attempts] == [(1, 500), (2, 502), (3, 200)]
    assert attempts[0]["error"] == "HTTP 500" and attempts[0]["response_excerpt"] == "answer 500"
    assert delivery["attempt_count"] == 3


async def test_after_the_last_retry_the_delivery_fails_and_a_replay_sends_it_again(
    db_engine: AsyncEngine, receiver: Receiver, dispatch: Callable[..., Any]
) -> None:
    receiver.behaviours["down"] = respond(503, 503, 503)
    await add_partner(db_engine, receiver.url("down"))
    async with dispatch(retry_schedule_seconds=[0.1, 0.1]):
        await add_event(db_engine)
        [failed] = await settled(db_engine, "failed")
        assert failed["attempt_count"] == 3 and failed["last_status_code"] == 503
        assert len(receiver.at("down")) == 3

        replayed = await replay_delivery(db_engine, failed["id"])
        assert replayed["status"] == "pending"
        [done] = await settled(db_engine, "succeeded")

    assert len(receiver.at("down")) == 4
    assert [a["status_code"] for a in await attempts_of(db_engine, done["id"])] == [503, 503, 503, 200]


async def test_retry_after_is_honoured(
    db_engine: AsyncEngine, receiver: Receiver, dispatch: Callable[..., Any]
) -> None:
    receiver.behaviours["busy"] = respond((429, {"Retry-After": "1"}))
    await add_partner(db_engine, receiver.url("busy"))
    async with dispatch(retry_schedule_seconds=[0.05]):
        await add_event(db_engine)
        first, second = await receiver.wait_count("busy", 2)
        await settled(db_engine, "succeeded")
    assert second.at - first.at >= 0.95


async def test_redirects_are_not_followed(
    db_engine: AsyncEngine, receiver: Receiver, dispatch: Callable[..., Any]
) -> None:
    async def redirect(_: Received) -> web.StreamResponse:
        raise web.HTTPFound(receiver.url("elsewhere"))

    receiver.behaviours["moved"] = redirect
    await add_partner(db_engine, receiver.url("moved"))
    async with dispatch(retry_schedule_seconds=[]):
        await add_event(db_engine)
        [failed] = await settled(db_engine, "failed")
    assert failed["last_status_code"] == 302
    assert receiver.at("elsewhere") == []


async def test_response_excerpt_is_capped_at_2_kb(
    db_engine: AsyncEngine, receiver: Receiver, dispatch: Callable[..., Any]
) -> None:
    async def chatty(_: Received) -> web.StreamResponse:
        return web.Response(status=500, text="x" * 100_000)

    receiver.behaviours["chatty"] = chatty
    await add_partner(db_engine, receiver.url("chatty"))
    async with dispatch(retry_schedule_seconds=[]):
        await add_event(db_engine)
        [failed] = await settled(db_engine, "failed")
    [attempt] = await attempts_of(db_engine, failed["id"])
    assert attempt["response_excerpt"] == "x" * 2048


async def test_body_is_the_signed_bytes_and_carries_the_event(
    db_engine: AsyncEngine, receiver: Receiver, dispatch: Callable[..., Any]
) -> None:
    got = await two_events_received(
        db_engine, receiver, dispatch, "p", ("payment.failed", "payment.succeeded")
    )
    types = sorted(json.loads(r.body)["type"] for r in got)
    assert types == ["payment.failed", "payment.succeeded"]
    assert len({r.msg_id for r in got}) == 2
