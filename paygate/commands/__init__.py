"""What every ``paygate`` sub-command shares: expected failures become a message and an exit code.

Exit codes: 0 done; 1 the operation was refused (duplicate email, unknown partner, bad input);
2 usage or configuration error; 3 the database is unreachable.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import TypeVar
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from shared.db import create_engine, create_session_factory
from shared.problems import ApplicationError
from shared.settings import PaygateSettings

EXIT_REFUSED = 1
EXIT_CONFIG = 2
EXIT_DATABASE = 3

T = TypeVar("T")


class CommandError(Exception):
    """An expected failure: printed as ``paygate: error: <message>``, no traceback."""

    def __init__(self, message: str, exit_code: int = EXIT_REFUSED) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def _running_dev_database() -> str:
    """While ``make dev`` runs, its database (from ``.paygate/dev.json``), so commands just work."""
    from paygate.dev import STATE_DIR

    try:
        return str(json.loads((STATE_DIR / "dev.json").read_text()).get("database_url") or "")
    except (OSError, ValueError, AttributeError):
        return ""


def database_url(explicit: str | None = None) -> str:
    """``--database-url``, else ``PAYGATE_DATABASE_URL``, else the database of a running ``make dev``."""
    from paygate.config_check import SETTINGS_ERRORS, database_url_problem, describe_settings_error

    if explicit:
        url, source = explicit, "--database-url"
    else:
        try:
            url, source = PaygateSettings().database_url, "PAYGATE_DATABASE_URL"
        except SETTINGS_ERRORS as exc:
            raise CommandError("; ".join(describe_settings_error(exc, "PAYGATE_")), EXIT_CONFIG) from None
        url = url or _running_dev_database()
    if not url:
        raise CommandError(
            "PAYGATE_DATABASE_URL is not set (postgresql://user:password@host:5432/paygate)", EXIT_CONFIG
        )
    problem = database_url_problem(url)  # never the URL itself: it may hold a password
    if problem:
        raise CommandError(f"{source} {problem}", EXIT_CONFIG)
    return url


def describe_database(url: str) -> str:
    """host:port/database, without the credentials."""
    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path or ''}"


def database_failure(exc: BaseException, url: str) -> CommandError | None:
    """The ``CommandError`` for a connection-level failure, None for anything else."""
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    cause: BaseException = exc
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        cause = exc.orig
        if not isinstance(exc, OperationalError | InterfaceError) and not exc.connection_invalidated:
            return None
    elif not isinstance(exc, OSError | TimeoutError):
        import asyncpg

        if not isinstance(
            exc,
            asyncpg.InvalidAuthorizationSpecificationError
            | asyncpg.InvalidPasswordError
            | asyncpg.InvalidCatalogNameError
            | asyncpg.CannotConnectNowError
            | asyncpg.TooManyConnectionsError,
        ):
            return None
    reason = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
    return CommandError(f"cannot reach the database at {describe_database(url)}: {reason}", EXIT_DATABASE)


def run_with_engine(url: str, work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    """Run ``work`` on a small engine; database and application errors become ``CommandError``."""

    async def _run() -> T:
        engine = create_engine(url, pool_size=1, max_overflow=0)
        try:
            return await work(engine)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(_run())
    except ApplicationError as exc:
        raise CommandError(exc.detail, EXIT_REFUSED) from None
    except Exception as exc:
        failure = database_failure(exc, url)
        if failure is None:
            raise
        raise failure from None


def run_with_session(url: str, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in one transaction (see ``run_with_engine``)."""

    async def in_transaction(engine: AsyncEngine) -> T:
        async with create_session_factory(engine)() as session, session.begin():
            return await work(session)

    return run_with_engine(url, in_transaction)
