"""The one migration history: a single head, reversible, and in step with the models."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from contextlib import redirect_stdout

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
async def empty_database_url(database_url: str) -> Iterator[str]:
    """A brand-new database on the same server, dropped afterwards."""
    name = f"migrations_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(asyncpg_dsn(database_url.rsplit("/", 1)[0] + "/postgres"))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield database_url.rsplit("/", 1)[0] + f"/{name}"
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def _tables(url: str) -> set[str]:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {row["tablename"] for row in rows}
    finally:
        await conn.close()


async def test_upgrade_downgrade_upgrade_on_an_empty_database(empty_database_url: str) -> None:
    import asyncio

    expected = set(Base.metadata.tables)
    await asyncio.to_thread(upgrade, empty_database_url)
    assert await _tables(empty_database_url) == expected | {"alembic_version"}

    await asyncio.to_thread(downgrade, empty_database_url, "base")
    assert await _tables(empty_database_url) == {"alembic_version"}

    await asyncio.to_thread(upgrade, empty_database_url)
    assert await _tables(empty_database_url) == expected | {"alembic_version"}


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
