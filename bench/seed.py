"""Seeding straight into the database: bench users (argon2 hashes from the gateway's own
``hash_password``), tens of thousands of payable reservations, partners pointing at the receiver.

The bench writes rows the services own only to set the stage; every measured request goes through
the services' HTTP APIs (or the dispatcher) exactly as in production."""

from __future__ import annotations

import random
import secrets
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import asyncpg

from gateway.auth.passwords import hash_password
from shared.models import EVENT_TYPES
from shared.webhooks import generate_secret

CURRENCIES = ("EUR", "USD", "GBP", "JPY")


@dataclass(frozen=True)
class BenchUser:
    id: uuid.UUID
    email: str
    role: str


@dataclass(frozen=True)
class BenchReservation:
    id: uuid.UUID
    user_id: uuid.UUID
    amount: int
    currency: str


@dataclass(frozen=True)
class BenchPartner:
    id: uuid.UUID
    name: str
    url: str
    secret: str


async def seed_users(conn: asyncpg.Connection, count: int) -> list[BenchUser]:
    password = secrets.token_urlsafe(16)
    # argon2-cffi releases the GIL while hashing: two threads use both cores.
    with ThreadPoolExecutor(max_workers=2) as pool:
        hashes = list(pool.map(hash_password, [password] * count))
    users = [BenchUser(uuid.uuid4(), f"bench-user-{i}@bench.paygate.test", "user") for i in range(count)]
    await conn.copy_records_to_table(
        "users",
        records=[(u.id, u.email, h, u.role) for u, h in zip(users, hashes, strict=True)],
        columns=["id", "email", "password_hash", "role"],
    )
    return users


def make_reservations(users: list[BenchUser], count: int, rng: random.Random) -> list[BenchReservation]:
    return [
        BenchReservation(
            uuid.uuid4(), users[i % len(users)].id, rng.randint(500, 99_999), rng.choice(CURRENCIES)
        )
        for i in range(count)
    ]


async def seed_reservations(conn: asyncpg.Connection, reservations: list[BenchReservation]) -> None:
    await conn.copy_records_to_table(
        "reservations",
        records=[
            (r.id, r.user_id, r.amount, r.currency, "bench reservation", "payable") for r in reservations
        ],
        columns=["id", "user_id", "amount", "currency", "description", "status"],
    )
    await conn.execute("ANALYZE reservations; ANALYZE users")


async def seed_partners(
    conn: asyncpg.Connection, receiver_url: str, names: list[tuple[str, str]]
) -> dict[str, BenchPartner]:
    """Partners subscribed to every event type, all disabled: each scenario enables its own."""
    partners = {}
    for name, path in names:
        partner = BenchPartner(uuid.uuid4(), name, f"{receiver_url}/{path}/{name}", generate_secret())
        await conn.execute(
            "INSERT INTO partners (id, name, url, event_types, enabled, secret)"
            " VALUES ($1, $2, $3, $4, false, $5)",
            partner.id,
            partner.name,
            partner.url,
            list(EVENT_TYPES),
            partner.secret,
        )
        partners[name] = partner
    return partners


async def enable_only(conn: asyncpg.Connection, partners: list[BenchPartner]) -> None:
    await conn.execute(
        "UPDATE partners SET enabled = (id = ANY($1::uuid[])), updated_at = now()",
        [p.id for p in partners],
    )
