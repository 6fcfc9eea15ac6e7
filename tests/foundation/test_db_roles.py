"""Least privilege in PostgreSQL: each service's role writes its own tables and is refused the other's."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from paygate.db_roles import RoleSetupError, ServiceRole, apply_roles
from shared.db import asyncpg_dsn
from shared.models import Base
from shared.ownership import OWNED, OWNER_ONLY, READS, owner_of
from tests.fixtures.database import role_urls, service_role_url
from tests.fixtures.services import RunningService


def test_every_table_has_exactly_one_owning_service() -> None:
    tables = {table.name for table in Base.metadata.sorted_tables}
    owned = [t for service_tables in OWNED.values() for t in service_tables]
    assert sorted(owned) == sorted(set(owned)), "a table owned by two services"
    assert set(owned) == tables, "shared/ownership.py must name every table of shared/models.py"
    assert all(owner_of(t) is not None for t in tables)
    for service, reads in READS.items():
        assert not set(reads) & set(OWNED[service])
    assert not set(OWNER_ONLY) & tables


def _role_dsn(database_url: str, service: str) -> str:
    if not role_urls(database_url):
        pytest.skip("the test database user may not create roles")
    return asyncpg_dsn(service_role_url(database_url, service))


WRITES = {
    # one statement per table a service must never write: the other service's
    "gateway": [
        "INSERT INTO payments (reservation_id, user_id, amount, currency, provider) "
        "VALUES (gen_random_uuid(), gen_random_uuid(), 1, 'EUR', 'mock')",
        "UPDATE webhook_deliveries SET status = 'canceled'",
        "DELETE FROM idempotency_keys",
        "SELECT count(*) FROM payment_events",
        "TRUNCATE delivery_attempts",
    ],
    "payment-ms": [
        "INSERT INTO users (email, password_hash) VALUES ('x@example.com', 'x')",
        "UPDATE reservations SET status = 'paid'",
        "DELETE FROM partners",
        "SELECT count(*) FROM users",
        "TRUNCATE login_throttles",
    ],
}
OWN = {
    "gateway": "INSERT INTO login_throttles (key) VALUES ('ip:192.0.2.1') RETURNING key",
    "payment-ms": "INSERT INTO provider_events (provider, id, type) VALUES ('mock', 'e1', 'x') RETURNING id",
}


@pytest.mark.parametrize("service", ["gateway", "payment-ms"])
async def test_a_service_role_is_refused_the_other_services_tables(database_url: str, service: str) -> None:
    conn = await asyncpg.connect(_role_dsn(database_url, service))
    try:
        for statement in WRITES[service]:
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
                await conn.execute(statement)
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("CREATE TABLE intruder (id int)")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("UPDATE alembic_version SET version_num = version_num")
        # its own tables, and their sequences, are its to write
        assert await conn.fetchval(OWN[service]) is not None
        if service == "payment-ms":
            assert await conn.fetchval("SELECT nextval('delivery_attempts_id_seq')") > 0
    finally:
        await conn.close()


async def test_roles_are_idempotent_and_refuse_the_owner(database_url: str) -> None:
    roles = [ServiceRole.from_url(s, service_role_url(database_url, s)) for s in ("gateway", "payment-ms")]
    _role_dsn(database_url, "gateway")
    await apply_roles(database_url, roles)  # a second run changes nothing and fails nothing
    owner = ServiceRole.from_url("gateway", database_url)
    with pytest.raises(RoleSetupError, match="owner"):
        await apply_roles(database_url, [owner])
    with pytest.raises(RoleSetupError, match="role of its own"):
        await apply_roles(database_url, [roles[0], ServiceRole("payment-ms", roles[0].name, None)])


async def test_the_running_services_connect_as_their_roles(
    gateway: RunningService,
    payment_ms: RunningService,
    http: httpx.AsyncClient,
    db_engine: AsyncEngine,
    database_url: str,
) -> None:
    _role_dsn(database_url, "gateway")
    for service in (gateway, payment_ms):
        assert (await http.get(f"{service.url}/ready")).status_code == 200  # each opened its pool
    async with db_engine.connect() as conn:
        query = text("SELECT DISTINCT usename FROM pg_stat_activity WHERE datname = current_database()")
        users = set((await conn.execute(query)).scalars())
    assert {"paygate_gateway", "paygate_payment_ms"} <= users, users
