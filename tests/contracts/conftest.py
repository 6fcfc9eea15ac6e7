"""The fuzz tests share their rows: the tables are emptied once, before the package's first test, and
the callers' accounts are made once (a login per role per operation would be most of the run)."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.fixtures.checkout import new_account
from tests.fixtures.database import empty_tables
from tests.fixtures.services import RunningService


@pytest.fixture(scope="module")
async def tables_emptied_once(db_engine: AsyncEngine) -> None:
    await empty_tables(db_engine)


@pytest.fixture(autouse=True)
def clean_database(tables_emptied_once: None) -> None:
    """Overrides tests/conftest.py's: empty once per module, not before every test."""


@pytest.fixture(scope="module")
async def role_tokens(
    tables_emptied_once: None, db_engine: AsyncEngine, gateway: RunningService
) -> dict[str, str]:
    """A user's and an admin's bearer tokens, made once for the module."""
    async with httpx.AsyncClient(timeout=10.0) as http:
        accounts = [await new_account(db_engine, http, gateway.url, role) for role in ("user", "admin")]
    return {account.role: account.token for account in accounts}
