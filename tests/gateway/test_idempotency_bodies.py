"""IETF-exact idempotency through the gateway: the same Idempotency-Key with a different body is 422
problem+json and changes nothing, on checkout and on every mutating payment route."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.fixtures.checkout import CANCEL_URL, checkout, choose, reservation_state
from tests.fixtures.services import RunningService
from tests.gateway.conftest import MakeAccount, MakeReservation
from tests.payment_ms.conftest import count_rows, event_types

PROBLEM = "application/problem+json"


def _reused(response: httpx.Response) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["type"].endswith("/idempotency-key-reused")


async def test_checkout_same_key_other_body(
    http: httpx.AsyncClient,
    gateway: RunningService,
    make_account: MakeAccount,
    make_reservation: MakeReservation,
    db_engine: AsyncEngine,
) -> None:
    payer = await make_account()
    reservation, other_reservation = await make_reservation(payer), await make_reservation(payer)
    first = await checkout(http, gateway, payer, reservation, key="k-checkout")
    assert first.status_code == 201, first.text
    again = await checkout(http, gateway, payer, reservation, key="k-checkout")
    assert again.json() == first.json()  # the same request: its payment
    _reused(await checkout(http, gateway, payer, reservation, key="k-checkout", return_url=CANCEL_URL))
    _reused(await checkout(http, gateway, payer, reservation, key="k-checkout", capture_method="manual"))
    _reused(await checkout(http, gateway, payer, other_reservation, key="k-checkout"))
    assert await count_rows(db_engine, "payments") == 1
    assert (await reservation_state(db_engine, other_reservation))[0] == "payable"


async def test_payment_commands_same_key_other_body(
    http: httpx.AsyncClient,
    gateway: RunningService,
    payment_ms: RunningService,
    make_account: MakeAccount,
    make_reservation: MakeReservation,
    db_engine: AsyncEngine,
) -> None:
    admin, payer = await make_account("admin"), await make_account()
    # verify and cancel (the payer's), on a pending payment
    pending = (await checkout(http, gateway, payer, await make_reservation(payer))).json()["payment_id"]
    for action in ("verify", "cancel"):
        url = f"{gateway.url}/payment-gateway/{pending}/{action}"
        headers = {**payer.headers, "Idempotency-Key": f"k-{action}"}
        first = await http.post(url, json={"note": "first"}, headers=headers)
        assert first.status_code == 200, first.text
        assert (await http.post(url, json={"note": "first"}, headers=headers)).content == first.content
        _reused(await http.post(url, json={"note": "second"}, headers=headers))
    assert await event_types(db_engine, pending) == ["payment.created", "payment.canceled"]

    # capture (an authorized payment) and refunds (then captured), the admin's
    started = await checkout(http, gateway, payer, await make_reservation(payer), capture_method="manual")
    held = started.json()["payment_id"]
    await choose(http, payment_ms, started.json()["checkout_url"], "approve")
    capture = f"{gateway.url}/admin/payments/{held}/capture"
    key = {**admin.headers, "Idempotency-Key": "k-capture"}
    assert (await http.post(capture, json={"amount": 2000}, headers=key)).status_code == 200
    _reused(await http.post(capture, json={"amount": 1000}, headers=key))
    refunds = f"{gateway.url}/admin/payments/{held}/refunds"
    key = {**admin.headers, "Idempotency-Key": "k-refund"}
    assert (await http.post(refunds, json={"amount": 100}, headers=key)).status_code == 201
    _reused(await http.post(refunds, json={"amount": 200}, headers=key))
    payment = (await http.get(f"{gateway.url}/admin/payments/{held}", headers=admin.headers)).json()
    assert (payment["captured_amount"], payment["refunded_amount"]) == (2000, 100)
    assert await count_rows(db_engine, "refunds") == 1
