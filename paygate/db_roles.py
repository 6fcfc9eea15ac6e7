"""The services' own PostgreSQL roles: created (or updated) and granted exactly their tables, idempotently.

Run as the owner of the schema (the role the migrations run as, ``PAYGATE_DATABASE_URL``). Each service's
role and password come from its URL (``PAYGATE_GATEWAY_DATABASE_URL``, ``PAYGATE_PAYMENT_MS_DATABASE_URL``),
so the operator writes them once. Every run first revokes whatever the role held on the schema's tables and
sequences, then grants ``shared.ownership``'s lists, so a run after a migration also covers new tables.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import asyncpg

from shared.db import asyncpg_dsn
from shared.ownership import OWNED, READS
from shared.settings import PaygateSettings

_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
DEV_ROLE_NAMES = {"gateway": "paygate_gateway", "payment-ms": "paygate_payment_ms"}


class RoleSetupError(Exception):
    """A URL or a database state the roles cannot be set up from (message safe to print: no secrets)."""


@dataclass(frozen=True, slots=True)
class ServiceRole:
    service: str
    name: str
    password: str | None

    @classmethod
    def from_url(cls, service: str, url: str) -> ServiceRole:
        parts = urlsplit(asyncpg_dsn(url))
        name = unquote(parts.username or "")
        if not _ROLE_NAME.match(name):
            raise RoleSetupError(
                f"the {service} database URL needs a user name of a-z, 0-9 and _ (got none or another)"
            )
        return cls(service, name, unquote(parts.password) if parts.password else None)


def role_url(owner_url: str, name: str, password: str) -> str:
    """``owner_url`` with another user and password: what ``make dev`` and the tests derive."""
    parts = urlsplit(owner_url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{quote(name)}:{quote(password, safe='')}@{host}"))


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


async def _ensure_role(conn: asyncpg.Connection, role: ServiceRole) -> None:
    password = f" PASSWORD {_literal(role.password)}" if role.password is not None else ""
    exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role.name)
    if not exists:
        try:
            await conn.execute(
                f"CREATE ROLE {_ident(role.name)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE{password}"
            )
            return
        except asyncpg.DuplicateObjectError:  # created concurrently: update it instead
            pass
    attributes = await conn.fetchrow(
        "SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = $1", role.name
    )
    if attributes["rolsuper"]:
        raise RoleSetupError(
            f"the {role.service} role {role.name} is a superuser: give the service its own role"
        )
    await conn.execute(f"ALTER ROLE {_ident(role.name)} LOGIN{password}")


async def _grant(conn: asyncpg.Connection, role: ServiceRole, tables: set[str]) -> None:
    who = _ident(role.name)
    database = await conn.fetchval("SELECT current_database()")
    schema = await conn.fetchval("SELECT current_schema()")
    await conn.execute(f"GRANT CONNECT ON DATABASE {_ident(database)} TO {who}")
    await conn.execute(f"GRANT USAGE ON SCHEMA {_ident(schema)} TO {who}")
    await conn.execute(f"REVOKE CREATE ON SCHEMA {_ident(schema)} FROM {who}")
    await conn.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA {_ident(schema)} FROM {who}")
    await conn.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {_ident(schema)} FROM {who}")
    owned = sorted(t for t in OWNED[role.service] if t in tables)
    reads = sorted(t for t in READS[role.service] if t in tables)
    if owned:
        names = ", ".join(_ident(t) for t in owned)
        await conn.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {names} TO {who}")
        sequences = await conn.fetch(
            "SELECT DISTINCT s.relname FROM pg_class s JOIN pg_depend d ON d.objid = s.oid "
            "JOIN pg_class t ON t.oid = d.refobjid JOIN pg_namespace n ON n.oid = t.relnamespace "
            "WHERE s.relkind = 'S' AND n.nspname = $1 AND t.relname = ANY($2::text[])",
            schema,
            owned,
        )
        if sequences:
            seq_names = ", ".join(_ident(row["relname"]) for row in sequences)
            await conn.execute(f"GRANT USAGE, SELECT ON SEQUENCE {seq_names} TO {who}")
    if reads:
        await conn.execute(f"GRANT SELECT ON {', '.join(_ident(t) for t in reads)} TO {who}")


async def apply_roles(owner_url: str, roles: Sequence[ServiceRole]) -> None:
    """Create or update each role and grant it its tables, in one transaction (all or nothing)."""
    if len({role.name for role in roles}) != len(roles):
        raise RoleSetupError(
            "each service needs a role of its own (the two database URLs name the same user)"
        )
    conn = await asyncpg.connect(asyncpg_dsn(owner_url))
    try:
        owner = await conn.fetchval("SELECT current_user")
        for role in roles:
            if role.name == owner:
                raise RoleSetupError(
                    f"the {role.service} database URL connects as the owner {owner}: no least privilege"
                )
        async with conn.transaction():
            tables = {
                row["tablename"]
                for row in await conn.fetch(
                    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
                )
            }
            for role in roles:
                await _ensure_role(conn, role)
                await _grant(conn, role, tables)
    finally:
        await conn.close()


def configured_roles(settings: PaygateSettings) -> list[ServiceRole]:
    """The roles the services' own database URLs name (none when they are not set)."""
    urls = (("gateway", settings.gateway_database_url), ("payment-ms", settings.payment_ms_database_url))
    return [ServiceRole.from_url(service, url) for service, url in urls if url]
