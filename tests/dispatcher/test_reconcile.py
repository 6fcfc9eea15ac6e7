"""A payment stuck in pending past the configured age is re-verified with the provider: it settles,
its event goes out through the outbox, and a subscribed partner hears about it."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine

from payment_ms.providers.mock import APPROVED
from shared.models import Payment
from tests.dispatcher.conftest import Receiver, add_partner, eventually, fetch


async def add_approved_payment(engine: AsyncEngine, age_seconds: int) -> uuid.UUID:
    """The mock payer approved on the hosted page, but nobody called verify and no webhook came."""
    async with engine.begin() as conn:
        payment_id = await conn.scalar(
            insert(Payment)
            .values(
                reservation_id=uuid.uuid4(),
                user_id=uuid.uuid4(),
                amount=120000,
                currency="JPY",
                provider="mock",
                provider_session_id=f"mock_cs_{uuid.uuid4().hex}",
                provider_status=APPROVED,
            )
            .returning(Payment.id)
        )
        await conn.execute(
            text(
                "UPDATE payments SET created_at = created_at - make_interval(secs => :age),"
                " updated_at = updated_at - make_interval(secs => :age) WHERE id = :id"
            ),
            {"age": age_seconds, "id": payment_id},
        )
    assert payment_id is not None
    return payment_id


async def test_stuck_payment_is_verified_and_its_event_delivered(
    db_engine: AsyncEngine, receiver: Receiver, dispatch: Callable[..., Any]
) -> None:
    await add_partner(db_engine, receiver.url("listener"), ("payment.succeeded",))
    stuck = await add_approved_payment(db_engine, age_seconds=3600)
    recent = await add_approved_payment(db_engine, age_seconds=0)

    async with dispatch(reconcile_interval_seconds=0.2, reconcile_after_seconds=600):
        (got,) = await receiver.wait_count("listener", 1)

        async def settled() -> list[dict[str, Any]]:
            rows = await fetch(db_engine, "SELECT status FROM payments WHERE id = :id", id=stuck)
            return rows if rows[0]["status"] == "succeeded" else []

        await eventually(settled, what="the stuck payment settled")

    body = json.loads(got.body)
    assert body["type"] == "payment.succeeded" and body["data"]["id"] == str(stuck)
    [fresh] = await fetch(db_engine, "SELECT status FROM payments WHERE id = :id", id=recent)
    assert fresh["status"] == "pending"
    events = await fetch(db_engine, "SELECT payment_id, type FROM payment_events")
    assert events == [{"payment_id": stuck, "type": "payment.succeeded"}]
