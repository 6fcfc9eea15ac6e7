"""Shared fixtures: one real PostgreSQL per run, a clean database per test, our services over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import create_engine
from tests.fixtures.database import empty_tables, start_database
from tests.fixtures.services import RunningService, run_payment_ms, run_service, service_env


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from start_database(tmp_path_factory.mktemp("postgres"))


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
