"""The one migration history: a single head, reversible, and in step with the models."""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import redirect_stdout
from hashlib import sha256

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from alembic import command
from paygate.migrations import alembic_config, downgrade, upgrade
from shared.db import asyncpg_dsn, create_engine
from shared.models import Base


def test_history_has_exactly_one_head() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert len(script.get_heads()) == 1


@pytest.fixture
async def new_database(database_url: str) -> AsyncIterator[Callable[[], Awaitable[str]]]:
    """Makes brand-new databases on the same server, dropped afterwards."""
    server = database_url.rsplit("/", 1)[0]
    admin = await asyncpg.connect(asyncpg_dsn(server + "/postgres"))
    names: list[str] = []

    async def make() -> str:
        names.append(f"migrations_{uuid.uuid4().hex[:12]}")
        await admin.execute(f'CREATE DATABASE "{names[-1]}"')
        return f"{server}/{names[-1]}"

    try:
        yield make
        for name in names:
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await admin.close()


# What the schema is made of, each item as text PostgreSQL itself renders (so two equal schemas give equal
# snapshots whatever DDL made them). ``alembic_version`` is left out: it is the tool's, not the schema.
_SNAPSHOT_QUERIES = {
    "relations": """
        SELECT c.relname || ' kind=' || c.relkind::text
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
    """,
    "storage": """
        SELECT c.relname || ' ' || array_to_string(c.reloptions, ',')
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.reloptions IS NOT NULL
    """,
    "columns": """
        SELECT c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
            || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
            || coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '')
            || CASE WHEN a.attidentity <> '' THEN ' IDENTITY ' || a.attidentity::text ELSE '' END
            || CASE WHEN a.attgenerated <> '' THEN ' GENERATED ' || a.attgenerated::text ELSE '' END
            || coalesce(' COLLATE ' || nullif(co.collname, 'default'), '')
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        LEFT JOIN pg_collation co ON co.oid = a.attcollation
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND a.attnum > 0
          AND NOT a.attisdropped
    """,
    "constraints": """
        SELECT t.relname || ' ' || c.conname || ' ' || pg_get_constraintdef(c.oid)
        FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
        JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE n.nspname = 'public'
    """,
    "indexes": """
        SELECT indexdef FROM pg_indexes WHERE schemaname = 'public'
    """,
    "sequences": """
        SELECT s.relname || coalesce(' OWNED BY ' || t.relname || '.' || a.attname, '')
        FROM pg_class s JOIN pg_namespace n ON n.oid = s.relnamespace
        LEFT JOIN pg_depend d ON d.objid = s.oid AND d.deptype IN ('a', 'i')
            AND d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
        LEFT JOIN pg_class t ON t.oid = d.refobjid
        LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
        WHERE n.nspname = 'public' AND s.relkind = 'S'
    """,
    "triggers": """
        SELECT pg_get_triggerdef(t.oid) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND NOT t.tgisinternal
    """,
    "functions": """
        SELECT p.oid::regprocedure::text || ' ' || md5(pg_get_functiondef(p.oid)) FROM pg_proc p
        JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public' AND p.prokind IN ('f', 'p')
    """,
    "types": """
        SELECT t.typname || ' ' || t.typtype::text || coalesce(' ' || (
            SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
            FROM pg_enum e WHERE e.enumtypid = t.oid
        ), '')
        FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd', 'c')
          AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.reltype = t.oid)
    """,
    "extensions": "SELECT extname FROM pg_extension",
    "statistics": "SELECT pg_get_statisticsobjdef(oid) FROM pg_statistic_ext",
}


async def _snapshot(conn: asyncpg.Connection) -> dict[str, set[str]]:
    snapshot = {}
    for part, query in _SNAPSHOT_QUERIES.items():
        rows = {row[0] for row in await conn.fetch(query)}
        snapshot[part] = {item for item in rows if "alembic_version" not in item}
    return snapshot


async def _schema(url: str) -> dict[str, set[str]]:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        return await _snapshot(conn)
    finally:
        await conn.close()


def _differences(got: dict[str, set[str]], expected: dict[str, set[str]]) -> dict[str, dict[str, list[str]]]:
    """Per part, what is missing and what is extra (empty when the schemas are equal)."""
    return {
        part: {"missing": sorted(expected[part] - got[part]), "extra": sorted(got[part] - expected[part])}
        for part in expected
        if got[part] != expected[part]
    }


def _revisions() -> list[str]:
    """Every revision, oldest first (one line of history: see the single-head test)."""
    script = ScriptDirectory.from_config(alembic_config())
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


async def test_the_snapshot_sees_what_a_downgrade_could_forget(
    new_database: Callable[[], Awaitable[str]],
) -> None:
    """The comparison below is only as good as the snapshot: an index, a check, a default, a column type and
    a foreign key's deferral dropped or changed by hand each show."""
    url = await new_database()
    await asyncio.to_thread(upgrade, url)
    before = await _schema(url)
    changes = [
        ("DROP INDEX ix_webhook_deliveries_due", "indexes"),
        ("ALTER TABLE payments DROP CONSTRAINT ck_payments_status", "constraints"),
        ("ALTER TABLE payments ALTER COLUMN status DROP DEFAULT", "columns"),
        ("ALTER TABLE payments ALTER COLUMN payer_name TYPE varchar(201)", "columns"),
        (
            "ALTER TABLE idempotency_keys"
            " ALTER CONSTRAINT fk_idempotency_keys_payment_id_payments NOT DEFERRABLE",
            "constraints",
        ),
    ]
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        for statement, part in changes:
            undo = conn.transaction()
            await undo.start()
            await conn.execute(statement)
            changed = await _snapshot(conn)
            await undo.rollback()
            assert set(_differences(changed, before)) == {part}, statement
        assert _differences(await _snapshot(conn), before) == {}
    finally:
        await conn.close()


async def test_upgrade_downgrade_upgrade_on_an_empty_database_keeps_the_full_schema(
    new_database: Callable[[], Awaitable[str]],
) -> None:
    url = await new_database()
    empty = await _schema(url)
    await asyncio.to_thread(upgrade, url)
    head = await _schema(url)
    assert {name.split(" ")[0] for name in head["relations"] if name.endswith("kind=r")} == set(
        Base.metadata.tables
    )

    await asyncio.to_thread(downgrade, url, "base")
    assert _differences(await _schema(url), empty) == {}

    await asyncio.to_thread(upgrade, url)
    assert _differences(await _schema(url), head) == {}


async def test_every_revision_downgrades_to_exactly_the_schema_before_it(
    new_database: Callable[[], Awaitable[str]],
) -> None:
    """Up one revision at a time recording the schema, then down one at a time: each downgrade must give
    back the schema its revision started from, down to an empty database, and the way up again works."""
    url = await new_database()
    revisions = _revisions()
    steps = list(zip(["base", *revisions[:-1]], revisions, strict=True))  # (before, revision)
    schemas = {"base": await _schema(url)}
    for previous, revision in steps:
        await asyncio.to_thread(upgrade, url, revision)
        schemas[revision] = await _schema(url)
        assert _differences(schemas[revision], schemas[previous]) != {}, f"{revision} changes nothing"

    for previous, revision in reversed(steps):
        assert await _current_revision(url) == revision
        await asyncio.to_thread(downgrade, url, "-1")
        assert _differences(await _schema(url), schemas[previous]) == {}, f"downgrade of {revision}"
    assert await _current_revision(url) is None

    await asyncio.to_thread(upgrade, url, "head")
    assert _differences(await _schema(url), schemas[revisions[-1]]) == {}


async def test_the_migrations_build_exactly_the_schema_the_models_describe(
    new_database: Callable[[], Awaitable[str]],
) -> None:
    """Stricter than autogenerate, which does not compare check constraints: the migrated schema and the one
    ``create_all`` makes from the models are the same, check texts and FK deferral included."""
    migrated, from_models = await new_database(), await new_database()
    await asyncio.to_thread(upgrade, migrated)
    engine = create_engine(from_models, pool_size=1, max_overflow=0)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
    finally:
        await engine.dispose()
    assert _differences(await _schema(migrated), await _schema(from_models)) == {}


async def _current_revision(url: str) -> str | None:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        return await conn.fetchval("SELECT version_num FROM alembic_version")  # type: ignore[no-any-return]
    finally:
        await conn.close()


async def test_autogenerate_finds_no_difference_with_the_models(database_url: str) -> None:
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync_conn: compare_metadata(
                    MigrationContext.configure(sync_conn, opts={"compare_type": True}), Base.metadata
                )
            )
            assert (await conn.execute(text("SELECT count(*) FROM alembic_version"))).scalar_one() == 1
    finally:
        await engine.dispose()
    assert diff == []


def test_offline_sql_needs_no_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PAYGATE_DATABASE_URL", raising=False)
    out = io.StringIO()
    with redirect_stdout(out):
        command.upgrade(alembic_config(), "head", sql=True)
    sql = out.getvalue()
    for table in Base.metadata.tables:
        assert f"CREATE TABLE {table} " in sql
    assert (
        "CREATE INDEX ix_webhook_deliveries_due ON webhook_deliveries (due_at) WHERE status = 'pending'"
        in sql
    )


# What revisions 0001-0013 say, offline, up and down: a released revision is frozen (ARCHITECTURE.md),
# and a refactor of one must keep its SQL to the byte. A new revision adds to head and changes neither.
RELEASED = "0013"
RELEASED_UPGRADE_SHA256 = "562d43ed62b7d6af44375846c4488fb3eaf79ef927f2a0cc7272e6ee5e711e0f"
RELEASED_DOWNGRADE_SHA256 = "0b67837996020f5c05a84841fe3b69ab7c934c22b8ce87f27689d181c225a4e5"


def test_released_revisions_say_exactly_what_they_said(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PAYGATE_DATABASE_URL", raising=False)
    digests = []
    for run, target in ((command.upgrade, RELEASED), (command.downgrade, f"{RELEASED}:base")):
        out = io.StringIO()
        with redirect_stdout(out):
            run(alembic_config(), target, sql=True)
        digests.append(sha256(out.getvalue().encode()).hexdigest())
    assert digests == [RELEASED_UPGRADE_SHA256, RELEASED_DOWNGRADE_SHA256]
