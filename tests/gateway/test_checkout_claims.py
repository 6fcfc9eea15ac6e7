"""The checkout's claim on a reservation: held while payment_ms creates the payment, never forever."""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.fixtures.checkout import PROBLEM, payment_count, reservation_state
from tests.fixtures.services import RunningService
from tests.gateway.conftest import Checkouts


async def _leave_a_claim(db_engine: AsyncEngine, reservation_id: uuid.UUID, *, age_seconds: int) -> None:
    """What a gateway that died between claiming and recording leaves behind."""
    async with db_engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE reservations SET status = 'pending', "
                "updated_at = now() - make_interval(secs => :age) WHERE id = :id"
            ),
            {"age": age_seconds, "id": reservation_id},
        )


async def test_a_live_claim_is_409_and_a_dead_one_is_taken_over(
    checkouts: Checkouts,
    gateway: RunningService,
    db_engine: AsyncEngine,
) -> None:
    owner, reservation_id = await checkouts.payer()

    await _leave_a_claim(db_engine, reservation_id, age_seconds=0)
    busy = await checkouts.start(owner, reservation_id)
    assert busy.status_code == 409 and busy.headers["content-type"] == PROBLEM
    assert busy.headers["retry-after"] == "1"
    assert await payment_count(db_engine) == 0

    # The test gateway's GATEWAY_PAYMENT_MS_TIMEOUT is far below an hour: the claim has run out.
    await _leave_a_claim(db_engine, reservation_id, age_seconds=3600)
    taken = await checkouts.start(owner, reservation_id)
    assert taken.status_code == 201, taken.text
    payment_id = uuid.UUID(taken.json()["payment_id"])
    assert await reservation_state(db_engine, reservation_id) == ("pending", payment_id, "pending")
    assert await payment_count(db_engine) == 1


async def test_a_refused_create_releases_the_claim(
    checkouts: Checkouts,
    gateway: RunningService,
    db_engine: AsyncEngine,
) -> None:
    owner = await checkouts.account()
    # payment_ms refuses a currency the gateway's reservation row allows (a code outside ISO 4217).
    reservation_id = await checkouts.reservation(owner, currency="XXZ")
    refused = await checkouts.start(owner, reservation_id)
    # payment_ms's body schema refuses the code (its currency pattern): a 400, relayed
    assert refused.status_code == 400 and refused.headers["content-type"] == PROBLEM, refused.text
    assert await reservation_state(db_engine, reservation_id) == ("payable", None, None)
    assert await payment_count(db_engine) == 0
