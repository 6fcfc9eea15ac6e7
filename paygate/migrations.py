"""Alembic driven from Python (dev runner, tests, the ``paygate migrate`` command)."""

from __future__ import annotations

from alembic.config import Config

from alembic import command
from paygate.processes import PROJECT_ROOT
from shared.db import normalize_database_url


def alembic_config(url: str | None = None) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.attributes["configure_logging"] = False
    if url:
        config.set_main_option("sqlalchemy.url", normalize_database_url(url))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)
