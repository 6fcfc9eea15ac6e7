"""The checkout proxy end to end: real gateway, real payment_ms, the mock hosted page as a browser."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from shared.models import PaymentEvent
from tests.fixtures.checkout import (
    CANCEL_URL,
    PROBLEM,
    RETURN_URL,
    Checkouts,
    checkout,
)
from tests.fixtures.services import RunningService


async def test_checkout_approve_verify_marks_the_reservation_paid(
    checkouts: Checkouts, gateway: RunningService, http: httpx.AsyncClient
) -> None:
    owner, reservation_id = await checkouts.payer(amount=120000, currency="JPY")
    started = await checkouts.start(owner, reservation_id)
    assert started.status_code == 201, started.text
    body = started.json()
    assert body["status"] == "pending" and "/checkout/mock/" in body["checkout_url"]
    assert body["payment_id"] not in body["checkout_url"]
    assert await checkouts.state(reservation_id) == ("pending", uuid.UUID(body["payment_id"]), "pending")

    payment = (
        await http.get(f"{gateway.url}/payment-gateway/{body['payment_id']}", headers=owner.headers)
    ).json()
    assert (payment["amount"], payment["currency"], payment["user_id"]) == (120000, "JPY", str(owner.id))

    redirect = await checkouts.choose(body["checkout_url"], "approve")
    assert redirect.status_code == 303 and redirect.headers["location"].startswith(RETURN_URL)

    verified = await checkouts.command(owner, body["payment_id"], "verify")
    assert verified.status_code == 200 and verified.json()["status"] == "succeeded"
    assert await checkouts.state(reservation_id) == ("paid", uuid.UUID(body["payment_id"]), "succeeded")
    # verify again: unchanged; and a paid reservation cannot be checked out again
    again = await checkouts.command(owner, body["payment_id"], "verify")
    assert again.json()["status"] == "succeeded"
    second = await checkouts.start(owner, reservation_id)
    assert second.status_code == 409 and second.headers["content-type"] == PROBLEM
    assert await checkouts.payments() == 1


async def test_cancel_then_pay_again_and_decline(
    checkouts: Checkouts, gateway: RunningService, http: httpx.AsyncClient
) -> None:
    owner, reservation_id = await checkouts.payer()
    first = (await checkouts.start(owner, reservation_id)).json()
    canceled = await checkouts.command(owner, first["payment_id"], "cancel")
    assert canceled.status_code == 200 and canceled.json()["status"] == "canceled"
    assert await checkouts.state(reservation_id) == ("payable", uuid.UUID(first["payment_id"]), "canceled")
    # canceling twice is an illegal transition, passed through from payment_ms
    twice = await checkouts.command(owner, first["payment_id"], "cancel")
    assert twice.status_code == 409 and twice.headers["content-type"] == PROBLEM
    admin = await checkouts.account("admin")
    events = await http.get(
        f"{gateway.url}/admin/events", params={"payment_id": first["payment_id"]}, headers=admin.headers
    )
    assert [(e["type"], e["source"]) for e in reversed(events.json()["items"])] == [
        ("payment.created", "payer"),
        ("payment.canceled", "payer"),  # the payer's own cancel, through the gateway
    ]

    second = (await checkouts.start(owner, reservation_id)).json()
    assert second["payment_id"] != first["payment_id"]
    declined = await checkouts.choose(second["checkout_url"], "decline")
    assert declined.status_code == 303  # back to the shop; verify tells the outcome
    verified = await checkouts.command(owner, second["payment_id"], "verify")
    assert verified.json()["status"] == "failed"
    assert await checkouts.state(reservation_id) == ("payable", uuid.UUID(second["payment_id"]), "failed")


async def test_same_key_answers_the_same_payment_and_races_create_one(
    checkouts: Checkouts, gateway: RunningService, http: httpx.AsyncClient
) -> None:
    owner, reservation_id = await checkouts.payer()
    first = await checkouts.start(owner, reservation_id, key="order-1")
    retry = await checkouts.start(owner, reservation_id, key="order-1")
    assert first.status_code == retry.status_code == 201
    assert first.json() == retry.json()
    assert await checkouts.payments() == 1

    other = await checkouts.reservation(owner)
    answers = await asyncio.gather(*(checkout(http, gateway, owner, other) for _ in range(8)))
    created = [a for a in answers if a.status_code == 201]
    assert len(created) == 1, [a.status_code for a in answers]
    assert all(
        a.status_code == 409 and a.headers["content-type"] == PROBLEM for a in answers if a not in created
    )
    assert await checkouts.payments() == 2
    assert (await checkouts.state(other))[1] == uuid.UUID(created[0].json()["payment_id"])


async def test_checkout_input_is_checked_and_nothing_is_created(
    checkouts: Checkouts, gateway: RunningService, http: httpx.AsyncClient
) -> None:
    owner, reservation_id = await checkouts.payer()
    cases = {
        "open redirect": {"return_url": "https://evil.example/steal"},
        "cancel elsewhere": {"cancel_url": "https://evil.example/x"},
        "javascript url": {"return_url": "javascript:alert(1)"},
        "client amount": {"amount": 1},
        "client currency": {"currency": "USD"},
    }
    for reason, overrides in cases.items():
        response = await checkouts.start(owner, reservation_id, **overrides)
        assert response.status_code in (400, 422), reason
        assert response.headers["content-type"] == PROBLEM, reason
    no_key = await http.post(
        f"{gateway.url}/payment-gateway/reservations/checkout",
        json={"reservation_id": str(reservation_id), "return_url": RETURN_URL, "cancel_url": CANCEL_URL},
        headers=owner.headers,
    )
    assert no_key.status_code == 400
    too_long = await checkouts.start(owner, reservation_id, key="k" * 256)
    assert too_long.status_code == 400
    unknown = await checkouts.start(owner, uuid.uuid4())
    assert unknown.status_code == 404
    assert await checkouts.payments() == 0
    assert await checkouts.state(reservation_id) == ("payable", None, None)


async def test_nobody_reaches_someone_elses_payment(
    checkouts: Checkouts, gateway: RunningService, http: httpx.AsyncClient
) -> None:
    alice, mallory = await checkouts.account(), await checkouts.account()
    reservation_id = await checkouts.reservation(alice)
    payment = (await checkouts.start(alice, reservation_id)).json()
    await checkouts.choose(payment["checkout_url"], "approve")
    pid, missing = payment["payment_id"], str(uuid.uuid4())

    base = f"{gateway.url}/payment-gateway"
    for method, suffix in (("GET", ""), ("POST", "/verify"), ("POST", "/cancel")):
        theirs = await http.request(method, f"{base}/{pid}{suffix}", headers=mallory.headers)
        nothing = await http.request(method, f"{base}/{missing}{suffix}", headers=mallory.headers)
        assert theirs.status_code == nothing.status_code == 404, (method, suffix)
        assert (
            theirs.json()["detail"] == nothing.json()["detail"]
            and theirs.json()["title"] == nothing.json()["title"]
        )
        assert (await http.request(method, f"{base}/{pid}{suffix}")).status_code == 401
    stolen = await checkouts.start(mallory, reservation_id)
    assert stolen.status_code == 404
    for method, path in (
        ("GET", "/admin/payments"),
        ("GET", f"/admin/payments/{pid}"),
        ("POST", f"/admin/payments/{pid}/refunds"),
        ("POST", f"/admin/payments/{pid}/capture"),
        ("POST", f"/admin/payments/{pid}/confirm-cash"),
        ("GET", "/admin/payments/stats/daily"),
        ("GET", "/admin/events"),
        ("GET", "/admin/deliveries"),
    ):
        assert (
            await http.request(method, f"{gateway.url}{path}", headers=mallory.headers)
        ).status_code == 403, path
    # mallory's attempts changed nothing: alice's approved payment is still hers to verify
    assert await checkouts.state(reservation_id) == ("pending", uuid.UUID(pid), "pending")
    verified = await http.post(f"{base}/{pid}/verify", headers=alice.headers)
    assert verified.json()["status"] == "succeeded"


async def test_admin_passthroughs(
    checkouts: Checkouts, gateway: RunningService, http: httpx.AsyncClient
) -> None:
    admin, owner = await checkouts.account("admin"), await checkouts.account()
    reservation_id = await checkouts.reservation(owner)
    payment = (await checkouts.start(owner, reservation_id)).json()
    await checkouts.choose(payment["checkout_url"], "approve")
    await checkouts.command(owner, payment["payment_id"], "verify")

    listed = await http.get(
        f"{gateway.url}/admin/payments", params={"user_id": str(owner.id)}, headers=admin.headers
    )
    assert listed.status_code == 200 and [p["id"] for p in listed.json()["items"]] == [payment["payment_id"]]
    stats = await http.get(f"{gateway.url}/admin/payments/stats/daily", headers=admin.headers)
    assert stats.status_code == 200 and stats.json()["items"][0]["amount"] == 2500

    pid = payment["payment_id"]
    partial = await http.post(
        f"{gateway.url}/admin/payments/{pid}/refunds", json={"amount": 1000}, headers=admin.headers
    )
    assert partial.status_code == 201 and partial.json()["status"] == "partially_refunded"
    too_much = await http.post(
        f"{gateway.url}/admin/payments/{pid}/refunds", json={"amount": 5000}, headers=admin.headers
    )
    assert too_much.status_code in (409, 422) and too_much.headers["content-type"] == PROBLEM
    assert (
        await http.post(
            f"{gateway.url}/admin/payments/{pid}/refunds", json={"amount": "1"}, headers=admin.headers
        )
    ).status_code == 400
    rest = await http.post(f"{gateway.url}/admin/payments/{pid}/refunds", json={}, headers=admin.headers)
    assert rest.status_code == 201 and rest.json()["status"] == "refunded"
    assert await checkouts.state(reservation_id) == ("refunded", uuid.UUID(pid), "refunded")
    capture = await http.post(f"{gateway.url}/admin/payments/{pid}/capture", headers=admin.headers)
    assert capture.status_code == 409
    events = await http.get(f"{gateway.url}/admin/events", params={"payment_id": pid}, headers=admin.headers)
    assert events.status_code == 200
    assert {"payment.created", "payment.succeeded", "payment.refunded"} <= {
        e["type"] for e in events.json()["items"]
    }


async def test_request_id_reaches_payment_ms(
    checkouts: Checkouts, gateway: RunningService, http: httpx.AsyncClient, db_engine: AsyncEngine
) -> None:
    owner, reservation_id = await checkouts.payer()
    request_id = f"trace-{uuid.uuid4().hex}"
    response = await http.post(
        f"{gateway.url}/payment-gateway/reservations/checkout",
        json={"reservation_id": str(reservation_id), "return_url": RETURN_URL, "cancel_url": CANCEL_URL},
        headers={**owner.headers, "Idempotency-Key": "k1", "X-Request-ID": request_id},
    )
    assert response.status_code == 201 and response.headers["x-request-id"] == request_id
    async with AsyncSession(db_engine) as session:
        recorded = await session.scalar(
            select(PaymentEvent.request_id).where(
                PaymentEvent.payment_id == uuid.UUID(response.json()["payment_id"])
            )
        )
    assert recorded == request_id


async def test_health_check(gateway: RunningService, http: httpx.AsyncClient) -> None:
    response = await http.get(f"{gateway.url}/payment-gateway/health/check")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "gateway": "ok", "database": "ok", "payment_ms": "ok"}
