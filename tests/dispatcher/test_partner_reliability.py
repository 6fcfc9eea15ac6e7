"""Webhooks partners can rely on (issue 14): rotations in a row, the health policy with operational
events, ordered delivery, 429 back-off, retention. Real receivers on 127.0.0.1; every signature is
checked with the independent ``standardwebhooks`` library."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from standardwebhooks import Webhook

from gateway.partners.services import finish_rotation, partner_view, rotate_secret, update_partner
from gateway.settings import GatewaySettings
from shared.webhooks import generate_secret
from tests.dispatcher.conftest import (
    Received,
    Receiver,
    add_delivery,
    add_event,
    add_partner,
    disabled_partner,
    eventually,
    fetch,
    two_events_received,
)


def _verifies(secret: str, got: Received) -> bool:
    try:
        Webhook(secret).verify(got.body, got.headers)
    except Exception:
        return False
    return True


async def _secret_of(engine: AsyncEngine, partner_id: uuid.UUID) -> str:
    [row] = await fetch(engine, "SELECT secret FROM partners WHERE id = :id", id=partner_id)
    return str(row["secret"])


async def test_three_rotations_in_a_row_all_verify_within_their_windows(
    db_engine: AsyncEngine, receiver: Receiver, dispatch: Callable[..., Any]
) -> None:
    now = datetime.now(UTC)
    quick, _ = await add_partner(db_engine, receiver.url("quick"))
    spread, _ = await add_partner(db_engine, receiver.url("spread"))
    quick_secrets = [await _secret_of(db_engine, quick)]
    spread_secrets = [await _secret_of(db_engine, spread)]
    async with AsyncSession(db_engine) as session, session.begin():
        for _ in range(3):  # three rotations within a minute
            quick_secrets.append((await rotate_secret(session, quick, settings=GatewaySettings())).secret)
        # 30 h, 20 h and 1 h ago: the first replaced secret's 24 h are over, the others' are not
        for hours in (30, 20, 1):
            rotated = await rotate_secret(
                session, spread, now=now - timedelta(hours=hours), settings=GatewaySettings()
            )
            spread_secrets.append(rotated.secret)
        view = partner_view(rotated, now=now)
    # The answer says which secrets sign and until when: the current one, then each retired one.
    assert [w.current for w in view.signing_secrets] == [True, False, False]
    until = [w.signs_until for w in view.signing_secrets[1:]]
    assert until == [now + timedelta(hours=23), now + timedelta(hours=4)]

    async with dispatch(operational_poll_seconds=0.05):
        await add_event(db_engine)
        (to_quick,) = await receiver.wait_count("quick", 1)
        (to_spread,) = await receiver.wait_count("spread", 1)
        # Every secret of the three quick rotations still signs: one signature each.
        assert len(to_quick.headers["webhook-signature"].split(" ")) == 4
        assert all(_verifies(secret, to_quick) for secret in quick_secrets)
        assert [_verifies(secret, to_spread) for secret in spread_secrets] == [False, True, True, True]

        async with AsyncSession(db_engine) as session, session.begin():
            finished = partner_view(await finish_rotation(session, quick))
        assert [w.current for w in finished.signing_secrets] == [True]
        # The dispatchers refresh their partner cache when they process the rotation's event.
        await eventually(lambda: _all_processed(db_engine), what="the rotation events processed")
        await add_event(db_engine)
        (_, after) = await receiver.wait_count("quick", 2)
    assert [_verifies(secret, after) for secret in quick_secrets] == [False, False, False, True]
    events = await fetch(
        db_engine, "SELECT type, partner_id, data FROM operational_events ORDER BY created_at"
    )
    assert [e["type"] for e in events] == ["endpoint.secret_rotated"] * 7
    assert events[-1]["data"]["finished_early"] is True
    assert not any("whsec_" in json.dumps(e["data"]) for e in events), "no secret in operational events"


async def _all_processed(engine: AsyncEngine) -> bool:
    return not await fetch(engine, "SELECT id FROM operational_events WHERE processed_at IS NULL")


async def test_a_failing_partner_is_disabled_the_operator_told_and_enabling_resumes(
    db_engine: AsyncEngine, receiver: Receiver, dispatch: Callable[..., Any]
) -> None:
    healthy = {"now": False}

    async def flaky(_: Received) -> web.StreamResponse:
        return web.Response(status=200 if healthy["now"] else 500, text="down for maintenance")

    receiver.behaviours["flaky"] = flaky
    operator_secret = generate_secret()
    partner_id, secret = await add_partner(db_engine, receiver.url("flaky"))
    settings = {
        "health_max_consecutive_failures": 4,
        "retry_schedule_seconds": [0.1, 30.0],
        "operator_webhook_url": receiver.url("operator"),
        "operator_webhook_secret": operator_secret,
        "operational_poll_seconds": 0.1,
        "per_partner_concurrency": 1,
    }
    async with dispatch(**settings):
        for _ in range(3):
            await add_event(db_engine)

        partner = await disabled_partner(db_engine, partner_id, "the partner disabled by the health policy")
        assert partner["disabled_reason"].endswith("attempts in a row failed (health policy)")
        (event,) = await receiver.wait_count("operator", 1)
        Webhook(operator_secret).verify(event.body, event.headers)
        body = json.loads(event.body)
        assert body["type"] == "endpoint.disabled" and body["data"]["partner_id"] == str(partner_id)
        assert body["data"]["reason"] == partner["disabled_reason"]

        async def held() -> list[dict[str, Any]]:
            rows = await fetch(db_engine, "SELECT status, held FROM webhook_deliveries")
            return rows if all(r["held"] == "disabled" for r in rows) else []

        await eventually(held, what="the waiting deliveries held")
        sent_while_failing = len(receiver.at("flaky"))

        healthy["now"] = True
        async with AsyncSession(db_engine) as session, session.begin():
            await update_partner(session, partner_id, enabled=True, settings=GatewaySettings())
        (_, enabled) = await receiver.wait_count("operator", 2)
        Webhook(operator_secret).verify(enabled.body, enabled.headers)
        assert json.loads(enabled.body)["type"] == "endpoint.enabled"

        async def delivered() -> list[dict[str, Any]]:
            rows = await fetch(db_engine, "SELECT status FROM webhook_deliveries")
            return rows if {r["status"] for r in rows} == {"succeeded"} else []

        await eventually(delivered, what="every waiting delivery sent after re-enabling")
    resumed = receiver.at("flaky")[sent_while_failing:]
    assert len(resumed) == 3 and all(_verifies(secret, got) for got in resumed)
    assert len({got.msg_id for got in resumed}) == 3
    processed = await fetch(db_engine, "SELECT processed_at FROM operational_events")
    assert len(processed) == 2 and all(r["processed_at"] is not None for r in processed)


async def test_a_partner_failing_for_the_whole_span_is_disabled(
    db_engine: AsyncEngine, receiver: Receiver, dispatch: Callable[..., Any]
) -> None:
    receiver.behaviours["dead"] = lambda _: _answer(503)
    partner_id, _ = await add_partner(db_engine, receiver.url("dead"))
    async with dispatch(health_failure_span_seconds=0.3, retry_schedule_seconds=[0.2] * 10):
        await add_event(db_engine)

        partner = await disabled_partner(db_engine, partner_id, "disabled after the span of failures")
    assert partner["disabled_reason"].startswith("every attempt failed since")
    assert len(receiver.at("dead")) >= 2  # the first failure alone does not make a span


async def _answer(status: int, headers: dict[str, str] | None = None) -> web.StreamResponse:
    return web.Response(status=status, headers=headers or {}, text=f"answer {status}")


def _order_key(got: Received) -> tuple[str, int]:
    body = json.loads(got.body)
    return body["data"]["id"], body["sequence"]


async def test_ordered_delivery_holds_a_payments_later_events_not_the_others(
    db_engine: AsyncEngine, receiver: Receiver, dispatch: Callable[..., Any]
) -> None:
    types = ("payment.created", "payment.processing", "payment.succeeded")
    failures = {"left": 2}
    first: dict[str, Any] = {}

    async def behaviour(got: Received) -> web.StreamResponse:
        payment, sequence = _order_key(got)
        # The first event of payment A fails twice, and keeps failing until B's events all arrived.
        if payment == first["a"] and sequence == 1:
            others = [r for r in receiver.at("ordered") if _order_key(r)[0] == first.get("b")]
            if failures["left"] > 0 or len(others) < 2:
                failures["left"] -= 1
                return web.Response(status=500)
        return web.Response(status=204)

    receiver.behaviours["ordered"] = behaviour
    await add_partner(db_engine, receiver.url("ordered"), types, ordered=True)
    async with dispatch(retry_schedule_seconds=[0.1] * 20):
        payment_a, _ = await add_event(db_engine, "payment.created")
        first["a"] = str(payment_a)
        payment_b, _ = await add_event(db_engine, "payment.created")
        first["b"] = str(payment_b)
        await add_event(db_engine, "payment.processing", payment_a)
        await add_event(db_engine, "payment.succeeded", payment_a)
        await add_event(db_engine, "payment.processing", payment_b)

        async def all_delivered() -> bool:
            rows = await fetch(db_engine, "SELECT status FROM webhook_deliveries")
            return len(rows) == 5 and {r["status"] for r in rows} == {"succeeded"}

        await eventually(all_delivered, timeout=15, what="five deliveries")
    arrivals = [_order_key(got) for got in receiver.at("ordered")]
    of_a = [seq for payment, seq in arrivals if payment == first["a"]]
    of_b = [seq for payment, seq in arrivals if payment == first["b"]]
    assert len(of_a) >= 5 and set(of_a[:-2]) == {1} and of_a[-2:] == [2, 3], "A's later ones waited"
    assert of_b == [1, 2]
    last_failure_of_a1 = max(i for i, key in enumerate(arrivals) if key == (first["a"], 1))
    assert all(i < last_failure_of_a1 for i, key in enumerate(arrivals) if key[0] == first["b"])


async def test_429_backs_the_partner_off_without_counting_as_a_failure(
    db_engine: AsyncEngine, receiver: Receiver, dispatch: Callable[..., Any]
) -> None:
    answers = [(429, {"Retry-After": "1"}), (429, {})]

    async def throttled(_: Received) -> web.StreamResponse:
        if answers:
            status, headers = answers.pop(0)
            return await _answer(status, headers)
        return await _answer(200)

    receiver.behaviours["busy"] = throttled
    partner_id, _ = await add_partner(db_engine, receiver.url("busy"))
    settings = {
        "per_partner_concurrency": 1,
        "throttle_backoff_seconds": 0.3,
        "health_max_consecutive_failures": 1,  # one counted failure would disable it
        "retry_schedule_seconds": [],  # one counted failure would also give the delivery up
    }
    async with dispatch(**settings):
        await add_event(db_engine)
        await add_event(db_engine)

        async def delivered() -> list[dict[str, Any]]:
            rows = await fetch(db_engine, "SELECT * FROM webhook_deliveries WHERE status = 'succeeded'")
            return rows if len(rows) == 2 else []

        rows = await eventually(delivered, what="both delivered after the back-off")
    got = receiver.at("busy")
    assert len(got) == 4
    # Nothing reached the partner before its Retry-After was over, then the plain back-off.
    assert got[1].at - got[0].at >= 1.0 and got[2].at - got[1].at >= 0.3
    assert sum(r["throttled_count"] for r in rows) == 2 and all(r["attempt_count"] >= 1 for r in rows)
    [partner] = await fetch(db_engine, "SELECT enabled FROM partners WHERE id = :id", id=partner_id)
    assert partner["enabled"] is True
    assert await fetch(db_engine, "SELECT * FROM endpoint_health") == []


async def test_a_partners_rate_limit_paces_its_requests(
    db_engine: AsyncEngine, receiver: Receiver, dispatch: Callable[..., Any]
) -> None:
    rate, events = 5, 6
    await add_partner(db_engine, receiver.url("paced"), max_requests_per_second=rate)
    await add_partner(db_engine, receiver.url("unpaced"))
    async with dispatch(per_partner_concurrency=4):
        for _ in range(events):
            await add_event(db_engine)
        paced = await receiver.wait_count("paced", events)
        unpaced = await receiver.wait_count("unpaced", events)
    # At most `rate` requests start per second: six need five slots of 1/rate seconds. The partner
    # without a limit got the same events at once, so the spread is the limit's, not the machine's.
    spread = paced[-1].at - paced[0].at
    assert spread >= (events - 1) / rate - 0.1
    assert unpaced[-1].at - unpaced[0].at < spread


async def test_retention_purges_old_payloads_and_bodies_and_nothing_newer(
    db_engine: AsyncEngine, dispatch: Callable[..., Any]
) -> None:
    partner = uuid.uuid4()
    old = [await _event_with_attempt(db_engine, partner, days_ago=100) for _ in range(3)]
    waiting = await _event_with_attempt(db_engine, partner, days_ago=100, status="failed", pending=True)
    recent = await _event_with_attempt(db_engine, partner, days_ago=80)
    async with dispatch(maintenance_interval_seconds=0.1, retention_batch=2):

        async def purged() -> list[dict[str, Any]]:
            rows = await fetch(db_engine, "SELECT id FROM payment_events WHERE purged_at IS NOT NULL")
            return rows if len(rows) == 3 else []

        await eventually(purged, what="the old payloads purged, two per batch")
    events = {
        r["id"]: r
        for r in await fetch(db_engine, "SELECT id, type, data, sequence, created_at FROM payment_events")
    }
    attempts = {
        r["event_id"]: r
        for r in await fetch(
            db_engine,
            "SELECT d.event_id, d.status, a.response_excerpt, a.status_code, a.started_at FROM"
            " delivery_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id",
        )
    }
    for event_id in old:  # what stays for audit: ids, type, states, timestamps, status codes
        assert events[event_id]["data"] is None and events[event_id]["type"] == "payment.succeeded"
        assert attempts[event_id]["response_excerpt"] is None
        assert attempts[event_id]["status"] == "succeeded" and attempts[event_id]["status_code"] == 200
    for event_id in (recent, waiting):  # newer than the period, or still to be sent: untouched
        assert events[event_id]["data"] is not None
        assert attempts[event_id]["response_excerpt"] == "thanks"


async def _event_with_attempt(
    engine: AsyncEngine,
    partner: uuid.UUID,
    *,
    days_ago: int,
    status: str = "succeeded",
    pending: bool = False,
) -> uuid.UUID:
    _, event_id = await add_event(engine)
    at = datetime.now(UTC) - timedelta(days=days_ago)
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE payment_events SET created_at = :at, fanned_out_at = :at WHERE id = :id"),
            {"at": at, "id": event_id},
        )
        await add_delivery(
            conn,
            event_id,
            partner,
            {"started_at": at, "duration_ms": 12, "status_code": 200, "response_excerpt": "thanks"},
            "https://partner.example/h",
            status="pending" if pending else status,
            created_at=at,
            # a pending one waits far ahead, so this test's dispatcher leaves it alone
            due_at=datetime.now(UTC) + timedelta(days=1),
        )
    return event_id


async def test_every_envelope_carries_the_payments_sequence(
    db_engine: AsyncEngine, receiver: Receiver, dispatch: Callable[..., Any]
) -> None:
    got = await two_events_received(
        db_engine, receiver, dispatch, "seq", ("payment.created", "payment.succeeded")
    )
    bodies = sorted((json.loads(g.body) for g in got), key=lambda b: b["sequence"])
    assert [(b["type"], b["sequence"]) for b in bodies] == [("payment.created", 1), ("payment.succeeded", 2)]
    assert list(bodies[0]) == ["type", "timestamp", "sequence", "data"]
