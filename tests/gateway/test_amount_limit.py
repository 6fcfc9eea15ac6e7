"""One limit, one place: PAYGATE_MAX_AMOUNT bounds reservations in the gateway and payments in
payment_ms, so a reservation the gateway accepts is one payment_ms will take."""

from __future__ import annotations

import uuid

import httpx

from shared.settings import get_paygate_settings
from tests.fixtures.services import TEST_SERVICE_TOKEN, RunningService
from tests.gateway.conftest import MakeAccount

PROBLEM = "application/problem+json"


async def test_both_services_refuse_the_same_amounts_and_document_the_limit(
    gateway: RunningService, payment_ms: RunningService, http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    maximum = get_paygate_settings().max_amount  # the services run with the same (default) settings
    admin, owner = await make_account("admin"), await make_account()

    async def reserve(amount: int) -> httpx.Response:
        body = {"user_id": str(owner.id), "amount": amount, "currency": "EUR", "description": "Suite"}
        return await http.post(f"{gateway.url}/admin/reservations", json=body, headers=admin.headers)

    too_much = await reserve(maximum + 1)
    assert too_much.status_code == 422 and too_much.headers["content-type"] == PROBLEM
    assert str(maximum) in too_much.json()["detail"]
    largest = await reserve(maximum)
    assert largest.status_code == 201, largest.text
    checkout = await http.post(
        f"{gateway.url}/payment-gateway/reservations/checkout",
        json={
            "reservation_id": largest.json()["id"],
            "return_url": "http://localhost:3000/paid",
            "cancel_url": "http://localhost:3000/cancelled",
        },
        headers={**owner.headers, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert checkout.status_code == 201, checkout.text  # payment_ms takes the largest reservation

    direct = await http.post(
        f"{payment_ms.url}/api/payments",
        json={
            "reservation_id": str(uuid.uuid4()),
            "user_id": str(owner.id),
            "amount": maximum + 1,
            "currency": "EUR",
        },
        headers={"X-Service-Token": TEST_SERVICE_TOKEN, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert direct.status_code == 422 and direct.json()["detail"] == too_much.json()["detail"]

    for service, schema in ((gateway, "ReservationCreate"),):
        document = (await http.get(f"{service.url}/schema/openapi.json")).json()
        amount = document["components"]["schemas"][schema]["properties"]["amount"]
        branches = amount.get("anyOf", amount.get("oneOf", [amount]))
        assert [b["maximum"] for b in branches if b.get("type") == "integer"] == [maximum], schema
