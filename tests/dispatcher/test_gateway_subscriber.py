"""Contract #4 end to end: the gateway lists itself as a subscriber, the dispatcher signs with the secret
derived from the service token, and the reservation follows its payment without anyone calling verify:
succeeded → paid, canceled/failed → payable again."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.contracts import EventType
from shared.embedded_pg import free_port
from shared.models import Reservation, User
from tests.dispatcher.conftest import add_event, fetch, insert_payment, running_dispatcher
from tests.fixtures.services import run_service, service_env
from tests.fixtures.waiting import eventually

GATEWAY_SUBSCRIBER = "00000000-0000-0000-0000-000000000001"


async def _pending_reservation(db_engine: AsyncEngine, payment_status: str) -> tuple[uuid.UUID, uuid.UUID]:
    """A reservation waiting on its payment, whose payment has meanwhile reached ``payment_status``
    in payment_ms (the gateway has not heard of it: nobody called verify)."""
    async with db_engine.begin() as conn:
        user_id = await conn.scalar(
            insert(User)
            .values(email=f"payer-{uuid.uuid4().hex[:8]}@example.com", password_hash="x")
            .returning(User.id)
        )
        payment_id = uuid.uuid4()
        reservation_id = await conn.scalar(
            insert(Reservation)
            .values(
                user_id=user_id,
                amount=2500,
                currency="EUR",
                description="seat",
                status="pending",
                payment_id=payment_id,
                payment_status="pending",
            )
            .returning(Reservation.id)
        )
        assert reservation_id is not None
        await insert_payment(conn, id=payment_id, reservation_id=reservation_id, user_id=user_id)
        await conn.execute(
            text("UPDATE payments SET status = :status WHERE id = :id"),
            {"id": payment_id, "status": payment_status},
        )
    return reservation_id, payment_id


@asynccontextmanager
async def _gateway_and_dispatcher(database_url: str, log_dir: Path) -> AsyncIterator[None]:
    internal_port = free_port()
    internal = f"http://127.0.0.1:{internal_port}"
    env = service_env(database_url, GATEWAY_INTERNAL_EVENTS_URL=f"{internal}/internal/payment-events")
    with ExitStack() as stack:
        await asyncio.to_thread(
            stack.enter_context, run_service("gateway", env, log_dir, internal_port=internal_port)
        )
        # Loopback is refused for partners here: the gateway's own subscription is exempt.
        async with running_dispatcher(database_url, internal, allow_loopback=False):
            yield


async def _wait_reservation(
    db_engine: AsyncEngine, reservation_id: uuid.UUID, status: str, payment_status: str
) -> None:
    async def reached() -> list[dict[str, Any]]:
        rows = await fetch(
            db_engine, "SELECT status, payment_status FROM reservations WHERE id = :id", id=reservation_id
        )
        return rows if (rows[0]["status"], rows[0]["payment_status"]) == (status, payment_status) else []

    await eventually(
        reached, what=f"reservation {status}/{payment_status} through the payment-events receiver"
    )


async def test_reservation_follows_its_payment_through_the_outbox(
    db_engine: AsyncEngine, database_url: str, log_dir: Path
) -> None:
    reservation_id, payment_id = await _pending_reservation(db_engine, "succeeded")
    async with _gateway_and_dispatcher(database_url, log_dir):
        await add_event(db_engine, "payment.succeeded", payment_id)
        await _wait_reservation(db_engine, reservation_id, "paid", "succeeded")
    [delivery] = await fetch(db_engine, "SELECT partner_id, status FROM webhook_deliveries")
    assert str(delivery["partner_id"]) == GATEWAY_SUBSCRIBER
    assert delivery["status"] == "succeeded"


async def test_canceled_and_failed_events_make_the_reservation_payable_again(
    db_engine: AsyncEngine, database_url: str, log_dir: Path
) -> None:
    outcomes: list[tuple[str, EventType]] = [("canceled", "payment.canceled"), ("failed", "payment.failed")]
    reservations = [
        (await _pending_reservation(db_engine, status), status, event) for status, event in outcomes
    ]
    async with _gateway_and_dispatcher(database_url, log_dir):
        for (_, payment_id), _status, event_type in reservations:
            await add_event(db_engine, event_type, payment_id)
        for (reservation_id, _), status, _event in reservations:
            await _wait_reservation(db_engine, reservation_id, "payable", status)
    deliveries = await fetch(db_engine, "SELECT partner_id, status FROM webhook_deliveries")
    assert len(deliveries) == 2
    assert all(str(d["partner_id"]) == GATEWAY_SUBSCRIBER and d["status"] == "succeeded" for d in deliveries)
