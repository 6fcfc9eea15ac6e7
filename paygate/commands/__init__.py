"""What every ``paygate`` sub-command shares: expected failures become a message and an exit code.

Exit codes: 0 done; 1 the operation was refused (duplicate email, unknown partner, bad input);
2 usage or configuration error; 3 the database is unreachable.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from shared.db import EXIT_DATABASE, create_engine, create_session_factory, database_failure_message
from shared.problems import ApplicationError
from shared.settings import PaygateSettings
from shared.settings_errors import EXIT_BAD_CONFIG

EXIT_REFUSED = 1
EXIT_CONFIG = EXIT_BAD_CONFIG

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
    from paygate.config_check import SETTINGS_ERRORS, describe_settings_error
    from shared.settings import database_url_problem

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


def database_failure(exc: BaseException, url: str) -> CommandError | None:
    """The ``CommandError`` for a connection-level failure, None for anything else."""
    message = database_failure_message(exc, url)
    return None if message is None else CommandError(message, EXIT_DATABASE)


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


def print_json(value: Any) -> int:
    """``--json``: ``value`` indented, on stdout; the command's exit code."""
    print(json.dumps(value, indent=2))
    return 0


def print_listing(views: list[dict[str, Any]], as_json: bool, nothing: str) -> bool:
    """A list command's JSON (``{items, total}``) or its ``nothing`` line; True when that was all."""
    if as_json:
        print_json({"items": views, "total": len(views)})
        return True
    if not views:
        print(nothing)
        return True
    return False
