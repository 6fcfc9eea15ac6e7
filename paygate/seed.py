"""Demo data for ``make dev``: an admin, a user and two reservations, written once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.auth.passwords import hash_password
from shared.models import Reservation, User


@dataclass(frozen=True)
class DemoLogin:
    email: str
    password: str
    role: str


DEMO_ADMIN = DemoLogin("admin@paygate.dev", "admin-password", "admin")
DEMO_USER = DemoLogin("user@paygate.dev", "user-password", "user")
# Oldest first: the list (newest first) shows the JPY one first, as the README's walkthrough says.
DEMO_RESERVATIONS = ((2500, "EUR", "Concert ticket, row 7 seat 12"), (120000, "JPY", "Hotel night, Kyoto"))


async def seed_demo_data(engine: AsyncEngine) -> bool:
    """Insert the demo rows unless the demo admin exists. Returns whether anything was written."""
    async with engine.begin() as conn:
        exists = await conn.scalar(select(User.id).where(User.email == DEMO_ADMIN.email))
        if exists is not None:
            return False
        ids = {}
        for login in (DEMO_ADMIN, DEMO_USER):
            ids[login.email] = await conn.scalar(
                insert(User)
                .values(email=login.email, password_hash=hash_password(login.password), role=login.role)
                .returning(User.id)
            )
        for age, (amount, currency, description) in enumerate(reversed(DEMO_RESERVATIONS)):
            # Distinct created_at (one transaction would give both the same now()): a fixed order.
            await conn.execute(
                insert(Reservation).values(
                    user_id=ids[DEMO_USER.email],
                    amount=amount,
                    currency=currency,
                    description=description,
                    created_at=func.now() - timedelta(minutes=age),
                )
            )
        return True
