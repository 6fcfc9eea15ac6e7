"""Contract #4 end to end: the gateway lists itself as a subscriber, the dispatcher signs with the secret
derived from the service token, and the reservation follows its payment without anyone calling verify."""

from __future__ import annotations

import asyncio
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.embedded_pg import free_port
from shared.models import Payment, Reservation, User
from tests.dispatcher.conftest import add_event, eventually, fetch, running_dispatcher
from tests.fixtures.services import run_service, service_env


async def test_reservation_follows_its_payment_through_the_outbox(
    db_engine: AsyncEngine, database_url: str, log_dir: Path
) -> None:
    async with db_engine.begin() as conn:
        user_id = await conn.scalar(
            insert(User).values(email="payer@example.com", password_hash="x").returning(User.id)
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
        await conn.execute(
            insert(Payment).values(
                id=payment_id,
                reservation_id=reservation_id,
                user_id=user_id,
                amount=2500,
                currency="EUR",
                provider="mock",
            )
        )
        await conn.execute(
            text("UPDATE payments SET status = 'succeeded' WHERE id = :id"), {"id": payment_id}
        )

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = service_env(database_url, GATEWAY_INTERNAL_EVENTS_URL=f"{url}/internal/payment-events")
    with ExitStack() as stack:
        await asyncio.to_thread(stack.enter_context, run_service("gateway", env, log_dir, port=port))
        # Loopback is refused for partners here: the gateway's own subscription is exempt.
        async with running_dispatcher(database_url, url, allow_loopback=False):
            await add_event(db_engine, "payment.succeeded", payment_id)

            async def paid() -> list[dict[str, Any]]:
                rows = await fetch(
                    db_engine, "SELECT status FROM reservations WHERE id = :id", id=reservation_id
                )
                return rows if rows[0]["status"] == "paid" else []

            await eventually(paid, what="the reservation paid through the gateway's payment-events receiver")
    [delivery] = await fetch(db_engine, "SELECT partner_id, status FROM webhook_deliveries")
    assert str(delivery["partner_id"]) == "00000000-0000-0000-0000-000000000001"
    assert delivery["status"] == "succeeded"
