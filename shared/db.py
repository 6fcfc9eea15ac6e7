"""The async engine and session factory both services build in their lifespan."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


def normalize_database_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs (what operators and libpq tools use) and pick asyncpg."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


def asyncpg_dsn(url: str) -> str:
    """The same URL in the form raw asyncpg (and libpq tools) accept."""
    return normalize_database_url(url).replace("postgresql+asyncpg://", "postgresql://", 1)


def create_engine(url: str, *, pool_size: int = 20, max_overflow: int = 0, echo: bool = False) -> AsyncEngine:
    """No pre-ping: it cost a round trip on every checkout (1-6 % of the services' CPU in the bench's
    profiles). A connection that died is invalidated by the error it raises, and ``pool_recycle``
    retires idle ones before a proxy or firewall would cut them."""
    return create_async_engine(
        normalize_database_url(url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=False,
        pool_recycle=1800,
        echo=echo,
    )


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def raw_connection(engine: AsyncEngine) -> AsyncIterator[asyncpg.Connection]:
    """The asyncpg connection under a pooled one, for the hot paths that need ONE statement.

    A single statement is atomic without BEGIN/COMMIT, so this saves two round trips and SQLAlchemy's
    per-statement work (measured on the checkout path: BENCHMARKS.md). The pool stays the engine's;
    a connection that fails at the socket level is invalidated rather than handed out again.
    SQLAlchemy's asyncpg dialect installs its JSON codecs: ``json``/``jsonb`` values go in and come
    out as ``str``.
    """
    async with engine.connect() as conn:
        pooled = await conn.get_raw_connection()
        driver: asyncpg.Connection = pooled.driver_connection
        try:
            yield driver
        except BaseException as exc:
            # A cancelled request (its client hung up) can leave the driver mid-operation: handed out
            # again, its next query would fail with "another operation is in progress".
            broken = (asyncpg.InterfaceError, asyncpg.exceptions.InternalClientError)
            if isinstance(exc, (asyncio.CancelledError, *broken)) or is_database_unavailable(exc):
                await asyncio.shield(conn.invalidate())
            raise


# What a database that refuses, drops or cannot yet take connections raises, directly (raw asyncpg)
# or under SQLAlchemy's wrappers. Not query errors (a constraint, a syntax error): those are bugs or
# bad input, and stay what they are.
_UNAVAILABLE = (
    asyncpg.PostgresConnectionError,  # connection failed or dropped mid-query
    asyncpg.exceptions.OperatorInterventionError,  # shutting down, starting up, crashed (57P0x)
    asyncpg.exceptions.TooManyConnectionsError,
)
_DRIVER_MODULES = ("asyncpg", "sqlalchemy")


def _raised_by_driver(exc: BaseException) -> bool:
    tb = exc.__traceback__
    while tb is not None:
        if str(tb.tb_frame.f_globals.get("__name__", "")).startswith(_DRIVER_MODULES):
            return True
        tb = tb.tb_next
    return False


def is_database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it wraps) means the database cannot be reached right now: a 503 with
    Retry-After for the caller, never a 500. A connection refused or reset is a plain ``OSError``
    from the driver's connect, so an ``OSError`` counts only when the driver raised it."""
    from sqlalchemy import exc as sa_exc

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _UNAVAILABLE):
            return True
        if isinstance(current, asyncpg.InterfaceError) and "closed" in str(current):
            return True
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, sa_exc.TimeoutError):  # no pooled connection came free in time
            return True
        if isinstance(current, OSError) and _raised_by_driver(current):
            return True
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else (current.__cause__ or current.__context__)
    return False


EXIT_DATABASE = 3  # the exit code of a process that cannot reach its database


def describe_database(url: str) -> str:
    """host:port/database, without the credentials."""
    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path or ''}"


def database_failure_message(exc: BaseException, url: str) -> str | None:
    """What to say (naming the database, never its credentials) when ``exc`` is a connection-level
    failure (exit ``EXIT_DATABASE``), None for anything else."""
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
    return f"cannot reach the database at {describe_database(url)}: {reason}"
