"""Reservations (own only, admin creation) and the signed payment-event receiver, over real HTTP."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import msgspec
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from shared.contracts import Payment
from shared.events import public_body
from shared.models import Reservation
from tests.fixtures.checkout import deliver_event
from tests.fixtures.services import TEST_SERVICE_TOKEN, RunningService
from tests.gateway.conftest import Account, Checkouts, MakeAccount

PROBLEM = "application/problem+json"


async def test_admin_creates_and_users_see_only_their_own(
    gateway: RunningService, http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    admin, alice, bob = await make_account("admin"), await make_account(), await make_account()
    body = {"user_id": str(alice.id), "amount": 120000, "currency": "JPY", "description": "Hotel night"}
    created = await http.post(f"{gateway.url}/admin/reservations", json=body, headers=admin.headers)
    assert created.status_code == 201, created.text
    reservation = created.json()
    assert reservation["status"] == "payable" and reservation["amount"] == 120000

    mine = await http.get(f"{gateway.url}/reservations", headers=alice.headers)
    assert [r["id"] for r in mine.json()["items"]] == [reservation["id"]]
    assert (await http.get(f"{gateway.url}/reservations", headers=bob.headers)).json() == {
        "items": [],
        "next_cursor": None,
    }
    own = await http.get(f"{gateway.url}/reservations/{reservation['id']}", headers=alice.headers)
    assert own.status_code == 200 and own.json() == reservation
    theirs = await http.get(f"{gateway.url}/reservations/{reservation['id']}", headers=bob.headers)
    missing = await http.get(f"{gateway.url}/reservations/{uuid.uuid4()}", headers=bob.headers)
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json()["detail"] == missing.json()["detail"]

    listed = await http.get(
        f"{gateway.url}/admin/reservations", params={"user_id": str(alice.id)}, headers=admin.headers
    )
    assert len(listed.json()["items"]) == 1 and listed.json()["next_cursor"] is None
    assert (
        await http.post(f"{gateway.url}/admin/reservations", json=body, headers=alice.headers)
    ).status_code == 403
    assert (await http.get(f"{gateway.url}/admin/reservations", headers=alice.headers)).status_code == 403


async def test_bad_reservations_are_refused(
    gateway: RunningService, http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    admin = await make_account("admin")
    good = {"user_id": str(admin.id), "amount": 2500, "currency": "EUR", "description": "x"}
    cases = [
        {**good, "currency": "XTS"},  # a test code, not money
        {**good, "currency": "eur"},
        {**good, "amount": 0},
        {**good, "amount": 25.5},
        {**good, "amount": "2500"},
        {**good, "user_id": str(uuid.uuid4())},  # no such user: 404
        {**good, "description": ""},
        {**good, "status": "paid"},
    ]
    for body in cases:
        response = await http.post(f"{gateway.url}/admin/reservations", json=body, headers=admin.headers)
        assert response.status_code in (400, 404, 422), body
        assert response.headers["content-type"] == PROBLEM
    listed = await http.get(f"{gateway.url}/admin/reservations", headers=admin.headers)
    assert listed.json() == {"items": [], "next_cursor": None}


async def test_reservation_lists_page_with_a_cursor(
    gateway: RunningService, http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    """Every list of the public API pages the same way: ``limit``, then ``cursor=next_cursor``."""
    admin, alice = await make_account("admin"), await make_account()
    body = {"user_id": str(alice.id), "amount": 2500, "currency": "EUR", "description": "ticket"}
    for _ in range(3):
        created = await http.post(f"{gateway.url}/admin/reservations", json=body, headers=admin.headers)
        assert created.status_code == 201, created.text
    for url, headers in (
        (f"{gateway.url}/reservations", alice.headers),
        (f"{gateway.url}/admin/reservations", admin.headers),
    ):
        first = (await http.get(url, params={"limit": 2}, headers=headers)).json()
        assert len(first["items"]) == 2 and first["next_cursor"]
        second = (
            await http.get(url, params={"limit": 2, "cursor": first["next_cursor"]}, headers=headers)
        ).json()
        assert len(second["items"]) == 1 and second["next_cursor"] is None
        seen = [r["created_at"] for r in first["items"] + second["items"]]
        assert len({r["id"] for r in first["items"] + second["items"]}) == 3 and seen == sorted(
            seen, reverse=True
        )
        for bad in ({"cursor": "not-a-cursor"}, {"limit": 0}, {"limit": 201}):
            refused = await http.get(url, params=bad, headers=headers)
            assert refused.status_code == 400 and refused.headers["content-type"] == PROBLEM, bad


def _payment(
    reservation_id: uuid.UUID,
    user_id: uuid.UUID,
    payment_id: uuid.UUID,
    status: str,
    created_at: datetime | None = None,
) -> Payment:
    now = created_at or datetime.now(UTC)
    return Payment(
        id=payment_id,
        reservation_id=reservation_id,
        user_id=user_id,
        amount=2500,
        currency="EUR",
        status=status,  # type: ignore[arg-type]
        provider="mock",
        capture_method="automatic",
        captured_amount=2500 if status == "succeeded" else 0,
        refunded_amount=0,
        description="",
        checkout_url=None,
        return_url=None,
        cancel_url=None,
        payer_email=None,
        payer_name=None,
        metadata={},
        failure_reason=None,
        confirmed_by=None,
        confirmed_at=None,
        created_at=now,
        updated_at=now,
    )


async def _attach(db_engine: AsyncEngine, reservation_id: uuid.UUID, payment_id: uuid.UUID) -> None:
    async with AsyncSession(db_engine) as session, session.begin():
        await session.execute(
            update(Reservation)
            .where(Reservation.id == reservation_id)
            .values(payment_id=payment_id, payment_status="pending", status="pending")
        )


async def _attached(checkouts: Checkouts) -> tuple[Account, uuid.UUID, uuid.UUID]:
    """A payer's reservation with a payment started (as far as the gateway knows)."""
    owner, reservation_id = await checkouts.payer()
    payment_id = uuid.uuid4()
    await _attach(checkouts.db_engine, reservation_id, payment_id)
    return owner, reservation_id, payment_id


async def _status(
    http: httpx.AsyncClient, gateway: RunningService, owner: Account, reservation_id: uuid.UUID
) -> tuple[str, str | None]:
    body = (await http.get(f"{gateway.url}/reservations/{reservation_id}", headers=owner.headers)).json()
    return body["status"], body["payment_status"]


async def test_reservation_follows_signed_payment_events(
    checkouts: Checkouts, gateway: RunningService, http: httpx.AsyncClient
) -> None:
    owner, reservation_id, payment_id = await _attached(checkouts)

    succeeded = _payment(reservation_id, owner.id, payment_id, "succeeded")
    first = await deliver_event(http, gateway, succeeded, "payment.succeeded")
    assert first.status_code == 200 and first.json() == {"applied": True}
    assert await _status(http, gateway, owner, reservation_id) == ("paid", "succeeded")
    # a redelivery and a late, older event change nothing; then the refunds
    late = _payment(reservation_id, owner.id, payment_id, "pending")
    partial = _payment(reservation_id, owner.id, payment_id, "partially_refunded")
    refunded = _payment(reservation_id, owner.id, payment_id, "refunded")
    for news, event_type, applied, then in (
        (succeeded, "payment.succeeded", False, None),
        (late, "payment.created", False, ("paid", "succeeded")),
        (partial, "payment.refunded", True, ("paid", "partially_refunded")),
        (refunded, "payment.refunded", True, ("refunded", "refunded")),
    ):
        answer = await deliver_event(http, gateway, news, event_type)
        assert answer.json() == {"applied": applied}, (news.status, event_type)
        if then is not None:
            assert await _status(http, gateway, owner, reservation_id) == then, news.status


async def test_failed_payment_makes_the_reservation_payable_and_stale_payments_are_ignored(
    checkouts: Checkouts, gateway: RunningService, http: httpx.AsyncClient
) -> None:
    owner, reservation_id, payment_id = await _attached(checkouts)
    other = _payment(reservation_id, owner.id, uuid.uuid4(), "succeeded")  # not the current payment
    assert (await deliver_event(http, gateway, other, "payment.succeeded")).json() == {"applied": False}
    failed = _payment(reservation_id, owner.id, payment_id, "failed")
    assert (await deliver_event(http, gateway, failed, "payment.failed")).json() == {"applied": True}
    assert await _status(http, gateway, owner, reservation_id) == ("payable", "failed")


async def test_a_newer_payment_is_adopted_and_an_older_ones_news_never_takes_the_reservation_back(
    checkouts: Checkouts, gateway: RunningService, http: httpx.AsyncClient
) -> None:
    """The current payment is the newest (payment_ms allows one live payment per reservation): how a
    reservation whose record a crash lost learns its payment from the next event."""
    owner, reservation_id = await checkouts.payer()
    start = datetime.now(UTC)
    first = _payment(reservation_id, owner.id, uuid.uuid4(), "pending", start)
    failed = _payment(reservation_id, owner.id, first.id, "failed", start)
    newer = _payment(reservation_id, owner.id, uuid.uuid4(), "pending", start + timedelta(seconds=1))
    for news, event_type in (
        (first, "payment.created"),
        (failed, "payment.failed"),
        (newer, "payment.created"),
    ):
        assert (await deliver_event(http, gateway, news, event_type)).json() == {"applied": True}, event_type
    assert await checkouts.state(reservation_id) == ("pending", newer.id, "pending")
    # the first payment's news, late (its creation): older than the current payment, ignored
    assert (await deliver_event(http, gateway, first, "payment.created")).json() == {"applied": False}
    assert await checkouts.state(reservation_id) == ("pending", newer.id, "pending")


async def test_payment_events_need_a_valid_signature(
    checkouts: Checkouts, gateway: RunningService, http: httpx.AsyncClient
) -> None:
    owner, reservation_id, payment_id = await _attached(checkouts)
    payment = _payment(reservation_id, owner.id, payment_id, "succeeded")
    forged = await deliver_event(http, gateway, payment, "payment.succeeded", secret="whsec_" + "A" * 44)
    assert forged.status_code == 401 and forged.headers["content-type"] == PROBLEM
    body = public_body(
        "payment.succeeded", datetime.now(UTC), msgspec.json.encode(payment), payer_details=False, sequence=1
    )
    for headers in ({}, owner.headers, {"X-Service-Token": TEST_SERVICE_TOKEN}):
        response = await http.post(
            f"{gateway.internal_url}/internal/payment-events", content=body, headers=headers
        )
        assert response.status_code == 401
    assert await _status(http, gateway, owner, reservation_id) == ("pending", "pending")
