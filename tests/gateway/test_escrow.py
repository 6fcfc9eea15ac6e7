"""Manual capture (escrow) end to end through the gateway: a reservation (or the checkout) asks for it,
the payer's approval only authorizes, an admin captures part or all of it or releases it, and a hold
nobody captured is released by reconciliation. The reservation follows every step."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from payment_ms.dispatcher.reconcile import Reconciler
from payment_ms.payments.services import release_expired_hold, verify_payment
from payment_ms.providers.registry import ProviderRegistry
from payment_ms.settings import PaymentSettings
from shared.db import asyncpg_dsn
from tests.dispatcher.conftest import dispatcher_settings
from tests.fixtures.services import RunningService
from tests.gateway.conftest import Account, Checkouts
from tests.payment_ms.conftest import event_sources

PROBLEM = "application/problem+json"


async def _reservation(checkouts: Checkouts, admin: Account, owner: Account, **extra: Any) -> uuid.UUID:
    created = await checkouts.http.post(
        f"{checkouts.gateway.url}/admin/reservations/",
        json={"user_id": str(owner.id), "amount": 2500, "currency": "EUR", "description": "Deposit", **extra},
        headers=admin.headers,
    )
    assert created.status_code == 201, created.text
    assert created.json()["capture_method"] == extra.get("capture_method")
    return uuid.UUID(created.json()["id"])


async def _authorized(
    checkouts: Checkouts, payer: Account, reservation_id: uuid.UUID, **checkout_extra: Any
) -> dict[str, Any]:
    started = await checkouts.start(payer, reservation_id, **checkout_extra)
    assert started.status_code == 201, started.text
    assert (await checkouts.choose(started.json()["checkout_url"], "approve")).status_code == 303
    # no verify: the mock's own provider event authorized it
    url = f"{checkouts.gateway.url}/payment-gateway/{started.json()['payment_id']}"
    payment = (await checkouts.http.get(url, headers=payer.headers)).json()
    assert payment["status"] == "authorized" and payment["capture_method"] == "manual"
    assert payment["captured_amount"] == 0 and payment["authorized_at"] is not None
    return payment


async def test_authorize_then_partial_capture(
    http: httpx.AsyncClient, gateway: RunningService, checkouts: Checkouts, db_engine: AsyncEngine
) -> None:
    admin, payer = await checkouts.account("admin"), await checkouts.account()
    reservation = await _reservation(checkouts, admin, payer, capture_method="manual")
    # the admin chose for this reservation: the payer cannot ask for the other method
    other = await checkouts.start(payer, reservation, capture_method="automatic")
    assert other.status_code == 422 and other.headers["content-type"].startswith(PROBLEM)
    assert (await checkouts.state(reservation))[0] == "payable"

    payment = await _authorized(checkouts, payer, reservation)
    pid = payment["id"]
    assert await checkouts.state(reservation) == ("pending", uuid.UUID(pid), "authorized")

    capture = f"{gateway.url}/admin/payments/{pid}/capture"
    too_much = await http.post(capture, json={"amount": 2501}, headers=admin.headers)
    assert too_much.status_code == 422 and too_much.json()["capturable"] == 2500
    assert (await http.post(capture, json={"amount": 1500}, headers=payer.headers)).status_code == 403
    captured = await http.post(capture, json={"amount": 1500}, headers=admin.headers)
    assert captured.status_code == 200, captured.text
    assert (captured.json()["status"], captured.json()["captured_amount"]) == ("succeeded", 1500)
    assert await checkouts.state(reservation) == ("paid", uuid.UUID(pid), "succeeded")
    assert (await http.post(capture, json={}, headers=admin.headers)).status_code == 409

    # only what was captured can be refunded
    refunds = f"{gateway.url}/admin/payments/{pid}/refunds"
    assert (await http.post(refunds, json={"amount": 1501}, headers=admin.headers)).status_code == 422
    refunded = await http.post(refunds, json={}, headers=admin.headers)
    assert (refunded.json()["status"], refunded.json()["refunded_amount"]) == ("refunded", 1500)
    assert await event_sources(db_engine, pid) == [
        ("payment.created", "payer"),
        ("payment.authorized", "provider"),
        ("payment.captured", "operator"),
        ("payment.succeeded", "operator"),
        ("payment.refunded", "operator"),
    ]


async def test_release_by_an_admin_and_not_by_the_payer(
    http: httpx.AsyncClient, gateway: RunningService, checkouts: Checkouts, db_engine: AsyncEngine
) -> None:
    admin, payer = await checkouts.account("admin"), await checkouts.account()
    reservation = await _reservation(checkouts, admin, payer)  # no method set: the checkout chooses
    pid = (await _authorized(checkouts, payer, reservation, capture_method="manual"))["id"]

    by_payer = await http.post(f"{gateway.url}/payment-gateway/{pid}/cancel", headers=payer.headers)
    assert by_payer.status_code == 409 and by_payer.json()["payment_status"] == "authorized"
    released = await http.post(f"{gateway.url}/admin/payments/{pid}/cancel", headers=admin.headers)
    assert released.status_code == 200, released.text
    assert released.json()["status"] == "canceled"
    assert await checkouts.state(reservation) == ("payable", uuid.UUID(pid), "canceled")
    assert await event_sources(db_engine, pid) == [
        ("payment.created", "payer"),
        ("payment.authorized", "provider"),  # the mock checkout's own event
        ("payment.canceled", "operator"),
    ]


async def test_an_uncaptured_hold_expires_through_reconciliation(
    http: httpx.AsyncClient,
    gateway: RunningService,
    checkouts: Checkouts,
    db_engine: AsyncEngine,
    database_url: str,
) -> None:
    admin, payer = await checkouts.account("admin"), await checkouts.account()
    reservation = await _reservation(checkouts, admin, payer, capture_method="manual")
    pid = (await _authorized(checkouts, payer, reservation))["id"]

    def reconciler(expiry: float) -> Reconciler:
        settings = dispatcher_settings(gateway.url, authorization_expiry_seconds=expiry)
        return Reconciler(settings, asyncpg_dsn(database_url))

    providers = ProviderRegistry(PaymentSettings())  # as the dispatcher's reconciler builds them

    async def verify(payment_id: uuid.UUID) -> object:
        return await verify_payment(db_engine, providers, payment_id)

    async def release(payment_id: uuid.UUID) -> object:
        return await release_expired_hold(db_engine, providers, payment_id)

    # inside its window (7 days by default) a hold is left alone
    assert await reconciler(7 * 86400.0).run_once(verify, release=release) == 0
    assert await reconciler(0.001).run_once(verify, release=release) == 1
    payment = (await http.get(f"{gateway.url}/payment-gateway/{pid}", headers=payer.headers)).json()
    assert payment["status"] == "canceled" and "expired" in payment["failure_reason"]
    assert await checkouts.state(reservation) == ("payable", uuid.UUID(pid), "canceled")
    assert await event_sources(db_engine, pid) == [
        ("payment.created", "payer"),
        ("payment.authorized", "provider"),
        ("payment.canceled", "expiry"),
    ]
