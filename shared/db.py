"""The async engine and session factory both services build in their lifespan."""

from __future__ import annotations

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
        except (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, OSError):
            await conn.invalidate()
            raise


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
