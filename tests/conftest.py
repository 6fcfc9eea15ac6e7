"""Shared fixtures: one real PostgreSQL per run, a clean database per test, our services over HTTP.

The suite runs on pytest-xdist workers (``-n auto`` in pyproject's addopts), each with its own embedded
PostgreSQL and services on free ports: nothing here is shared between workers."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import create_engine
from tests.fixtures.database import TEST_DATABASE_URL_ENV, empty_tables, server_folder, start_database
from tests.fixtures.services import RunningService, run_payment_ms, run_service, service_env


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """``-n auto``: a worker per core (xdist's own count), except where workers cannot help or would
    collide: one test file (its module fixtures are shared anyway; spawning workers only adds their
    start-up), or a given ``PAYGATE_TEST_DATABASE_URL`` (one database whose tables every test truncates)."""
    if os.environ.get(TEST_DATABASE_URL_ENV):
        return 0
    files = {arg.split("::")[0] for arg in config.args}
    if len(files) == 1 and files.pop().endswith(".py"):
        return 0
    return None


def pytest_configure(config: pytest.Config) -> None:
    workers = getattr(config.option, "numprocesses", None)
    if workers and os.environ.get(TEST_DATABASE_URL_ENV):
        raise pytest.UsageError(
            f"{TEST_DATABASE_URL_ENV} names one database and every test truncates its tables: "
            "run it without -n (or -n 0)"
        )


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    with server_folder("postgres") as folder:
        yield from start_database(folder)


@pytest.fixture(scope="session")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("service-logs")


@pytest.fixture(scope="session")
async def db_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, pool_size=5, max_overflow=5)
    yield engine
    await engine.dispose()


@pytest.fixture(autouse=True)
async def clean_database(db_engine: AsyncEngine) -> None:
    """Every test starts on empty tables (services run in other processes, so no rollback trick).
    A package whose tests share rows overrides this fixture (see tests/contracts/conftest.py)."""
    await empty_tables(db_engine)


@pytest.fixture(scope="session")
def payment_ms(database_url: str, log_dir: Path) -> Iterator[RunningService]:
    with run_payment_ms(database_url, log_dir) as service:
        yield service


@pytest.fixture(scope="session")
def gateway(database_url: str, payment_ms: RunningService, log_dir: Path) -> Iterator[RunningService]:
    # a short identity window: tests of disabled, deleted and demoted users wait less
    env = service_env(
        database_url, GATEWAY_PAYMENT_MS_URL=payment_ms.url, GATEWAY_DISABLED_USER_CHECK_SECONDS="0.5"
    )
    with run_service("gateway", env, log_dir) as service:
        yield service


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10.0) as client:
        yield client
