"""The admin passthroughs that the checkout flow does not reach: capture of a manual-capture payment,
cash confirmation, and the dispatcher's records (deliveries, one replay, a partner's replay), all
through the real gateway to the real payment_ms."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from shared.models import PaymentEvent, Reservation, WebhookDelivery
from shared.security import SERVICE_TOKEN_HEADER
from tests.dispatcher.conftest import add_delivery
from tests.fixtures.checkout import CANCEL_URL, RETURN_URL
from tests.fixtures.checkout_page import submit_choice
from tests.fixtures.services import TEST_SERVICE_TOKEN, RunningService
from tests.gateway.conftest import Account, Checkouts

PROBLEM = "application/problem+json"


async def _payment_for(
    checkouts: Checkouts, owner: Account, reservation_id: uuid.UUID, **options: Any
) -> dict[str, Any]:
    """A payment the checkout cannot start (manual capture, cash), created in payment_ms by its own API
    with the service token, and attached to the reservation as the gateway's checkout would."""
    body = {
        "reservation_id": str(reservation_id),
        "user_id": str(owner.id),
        "amount": 2500,
        "currency": "EUR",
        **options,
    }
    created = await checkouts.http.post(
        f"{checkouts.payment_ms.url}/api/payments",
        json=body,
        headers={SERVICE_TOKEN_HEADER: TEST_SERVICE_TOKEN, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert created.status_code == 201, created.text
    payment: dict[str, Any] = created.json()
    async with AsyncSession(checkouts.db_engine) as session, session.begin():
        await session.execute(
            update(Reservation)
            .where(Reservation.id == reservation_id)
            .values(payment_id=uuid.UUID(payment["id"]), payment_status="pending", status="pending")
        )
    return payment


async def test_capture_of_a_manual_capture_payment(
    checkouts: Checkouts, gateway: RunningService, payment_ms: RunningService, http: httpx.AsyncClient
) -> None:
    admin, owner = await checkouts.account("admin"), await checkouts.account()
    reservation_id = await checkouts.reservation(owner)
    payment = await _payment_for(
        checkouts,
        owner,
        reservation_id,
        capture_method="manual",
        return_url=RETURN_URL,
        cancel_url=CANCEL_URL,
    )
    pid = payment["id"]
    approved = await submit_choice(http, payment_ms.url, payment["checkout_url"], "approve")
    assert approved.status_code == 303
    authorized = await http.post(f"{gateway.url}/payment-gateway/{pid}/verify", headers=owner.headers)
    assert authorized.json()["status"] == "authorized"

    assert (
        await http.post(f"{gateway.url}/admin/payments/{pid}/capture", headers=owner.headers)
    ).status_code == 403
    captured = await http.post(
        f"{gateway.url}/admin/payments/{pid}/capture", headers={**admin.headers, "Idempotency-Key": "cap-1"}
    )
    assert captured.status_code == 200, captured.text
    assert captured.json()["status"] == "succeeded" and captured.json()["captured_amount"] == 2500
    assert await checkouts.state(reservation_id) == ("paid", uuid.UUID(pid), "succeeded")
    # the same key answers the same capture; a new capture is an illegal transition passed through
    again = await http.post(
        f"{gateway.url}/admin/payments/{pid}/capture", headers={**admin.headers, "Idempotency-Key": "cap-1"}
    )
    assert again.status_code == 200 and again.content == captured.content
    twice = await http.post(f"{gateway.url}/admin/payments/{pid}/capture", headers=admin.headers)
    assert twice.status_code == 409 and twice.headers["content-type"] == PROBLEM


async def test_confirm_cash_records_the_calling_admin(
    checkouts: Checkouts, gateway: RunningService, http: httpx.AsyncClient
) -> None:
    admin, owner = await checkouts.account("admin"), await checkouts.account()
    reservation_id = await checkouts.reservation(owner)
    cash = await _payment_for(checkouts, owner, reservation_id, provider="cash")
    assert cash["status"] == "pending" and cash["checkout_url"] is None
    pid = cash["id"]
    assert (
        await http.post(f"{gateway.url}/admin/payments/{pid}/confirm-cash", headers=owner.headers)
    ).status_code == 403
    confirmed = await http.post(f"{gateway.url}/admin/payments/{pid}/confirm-cash", headers=admin.headers)
    assert confirmed.status_code == 200, confirmed.text
    body = confirmed.json()
    assert body["status"] == "succeeded" and body["confirmed_by"] == admin.email
    assert await checkouts.state(reservation_id) == ("paid", uuid.UUID(pid), "succeeded")
    missing = await http.post(
        f"{gateway.url}/admin/payments/{uuid.uuid4()}/confirm-cash", headers=admin.headers
    )
    assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM


async def _failed_deliveries(db_engine: AsyncEngine, partner_id: uuid.UUID, url: str) -> list[uuid.UUID]:
    """What the dispatcher leaves behind after giving up: one failed delivery per event, one attempt each."""
    attempt = {"started_at": datetime.now(UTC), "duration_ms": 12, "status_code": 500}
    async with db_engine.begin() as conn:
        event_ids = (await conn.scalars(select(PaymentEvent.id).order_by(PaymentEvent.created_at))).all()
        assert event_ids
        return [
            await add_delivery(
                conn,
                event_id,
                partner_id,
                {**attempt, "response_excerpt": "boom", "worker": "test"},
                url,
                status="failed",
                last_status_code=500,
                last_error="HTTP 500",
            )
            for event_id in event_ids
        ]


async def _delivery_status(db_engine: AsyncEngine, delivery_id: uuid.UUID) -> str | None:
    async with AsyncSession(db_engine) as session:
        return await session.scalar(select(WebhookDelivery.status).where(WebhookDelivery.id == delivery_id))


async def test_deliveries_list_detail_and_replays(
    checkouts: Checkouts, gateway: RunningService, http: httpx.AsyncClient, db_engine: AsyncEngine
) -> None:
    admin, owner = await checkouts.account("admin"), await checkouts.account()
    reservation_id = await checkouts.reservation(owner)
    await _payment_for(checkouts, owner, reservation_id, return_url=RETURN_URL, cancel_url=CANCEL_URL)
    url = "http://127.0.0.1:9/hook"
    partner = await http.post(
        f"{gateway.url}/admin/partners",
        json={"name": "crm", "url": url, "event_types": ["payment.created"]},
        headers=admin.headers,
    )
    assert partner.status_code == 201, partner.text
    partner_id = uuid.UUID(partner.json()["id"])
    [first] = await _failed_deliveries(db_engine, partner_id, url)

    listed = await http.get(
        f"{gateway.url}/admin/deliveries",
        params={"partner_id": str(partner_id), "status": "failed"},
        headers=admin.headers,
    )
    assert listed.status_code == 200, listed.text
    assert [d["id"] for d in listed.json()["items"]] == [str(first)]
    assert listed.json()["items"][0]["last_status_code"] == 500
    detail = await http.get(f"{gateway.url}/admin/deliveries/{first}", headers=admin.headers)
    assert detail.status_code == 200
    assert detail.json()["event_type"] == "payment.created"
    assert [(a["attempt_number"], a["status_code"]) for a in detail.json()["attempts"]] == [(1, 500)]
    missing = await http.get(f"{gateway.url}/admin/deliveries/{uuid.uuid4()}", headers=admin.headers)
    assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM
    assert (
        await http.get(f"{gateway.url}/admin/deliveries/{first}", headers=owner.headers)
    ).status_code == 403

    replayed = await http.post(f"{gateway.url}/admin/deliveries/{first}/replay", headers=admin.headers)
    assert replayed.status_code == 202, replayed.text
    assert replayed.json()["id"] == str(first) and replayed.json()["status"] == "pending"
    assert await _delivery_status(db_engine, first) == "pending"

    # the partner's replay sends again what failed since a time: the delivery failed once more
    async with AsyncSession(db_engine) as session, session.begin():
        await session.execute(
            update(WebhookDelivery).where(WebhookDelivery.id == first).values(status="failed")
        )
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    replay_path = f"{gateway.url}/admin/partners/{partner_id}/deliveries/replay"
    assert (await http.post(replay_path, json={"since": since}, headers=owner.headers)).status_code == 403
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    none = await http.post(replay_path, json={"since": future}, headers=admin.headers)
    assert none.status_code == 202 and none.json() == {"replayed": 0}
    assert await _delivery_status(db_engine, first) == "failed"
    partner_replay = await http.post(replay_path, json={"since": since}, headers=admin.headers)
    assert partner_replay.status_code == 202 and partner_replay.json() == {"replayed": 1}
    assert await _delivery_status(db_engine, first) == "pending"
