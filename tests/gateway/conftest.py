"""Gateway test helpers: users made through the real service function, logins over real HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from gateway.users.services import create_user
from shared.models import Reservation
from tests.fixtures.services import RunningService
from tests.gateway.stack import shop, shop_port, stack  # noqa: F401 (fixtures for this package)

PASSWORD = "correct horse battery staple"


@dataclass
class Account:
    id: uuid.UUID
    email: str
    role: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def login(
    http: httpx.AsyncClient, base_url: str, email: str, password: str = PASSWORD
) -> httpx.Response:
    return await http.post(f"{base_url}/auth/login", json={"email": email, "password": password})


MakeAccount = Callable[..., Awaitable[Account]]


@pytest.fixture
def make_account(db_engine: AsyncEngine, gateway: RunningService, http: httpx.AsyncClient) -> MakeAccount:
    async def make(role: str = "user", email: str | None = None, base_url: str | None = None) -> Account:
        email = email or f"{role}-{uuid.uuid4().hex[:8]}@example.com"
        async with AsyncSession(db_engine) as session, session.begin():
            user = await create_user(session, email=email, password=PASSWORD, role=role)
            user_id = user.id
        response = await login(http, base_url or gateway.url, email)
        assert response.status_code == 200, response.text
        return Account(user_id, email, role, response.json()["access_token"])

    return make


MakeReservation = Callable[..., Awaitable[uuid.UUID]]


@pytest.fixture
def make_reservation(db_engine: AsyncEngine) -> MakeReservation:
    async def make(owner: Account, amount: int = 2500, currency: str = "EUR") -> uuid.UUID:
        async with AsyncSession(db_engine) as session, session.begin():
            reservation = Reservation(
                user_id=owner.id, amount=amount, currency=currency, description="Seat 7"
            )
            session.add(reservation)
            await session.flush()
            return reservation.id

    return make
