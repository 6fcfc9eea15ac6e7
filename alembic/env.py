"""Async migrations on the shared metadata.

URL precedence: ``-x url=...``, then ``sqlalchemy.url`` set by a caller (the tests, the dev runner),
then ``PAYGATE_DATABASE_URL``. Offline mode (``--sql``) needs no database and falls back to a
placeholder URL only to pick the PostgreSQL dialect.
"""

from __future__ import annotations

import asyncio
from logging.config import fileConfig

from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import async_engine_from_config

from alembic import context
from shared.db import normalize_database_url
from shared.models import Base
from shared.settings import PaygateSettings

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata
OFFLINE_PLACEHOLDER_URL = "postgresql+asyncpg://paygate@localhost/paygate"


def database_url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    url = url or PaygateSettings().database_url
    if not url and context.is_offline_mode():
        return OFFLINE_PLACEHOLDER_URL
    if not url:
        raise SystemExit("No database URL: set PAYGATE_DATABASE_URL or pass -x url=postgresql://...")
    return normalize_database_url(url)


def run_migrations_offline() -> None:
    context.configure(
        url=database_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    section = config.get_section(config.config_ini_section, {})
    section["sqlalchemy.url"] = database_url()
    connectable = async_engine_from_config(section, prefix="sqlalchemy.", poolclass=pool.NullPool)
    async with connectable.connect() as connection:
        await connection.run_sync(do_run_migrations)
    await connectable.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        do_run_migrations(connection)
        return
    asyncio.run(run_async_migrations())


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
