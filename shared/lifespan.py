"""The database engine each app owns for its lifetime."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from litestar import Litestar
from litestar.datastructures import State
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import create_engine, create_session_factory
from shared.settings import PaygateSettings


def database_lifespan(
    settings: PaygateSettings, service: str
) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    """``service``'s engine, on its own database role when one is configured (``database_url_for``)."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        url = settings.database_url_for(service)
        if not url:
            raise RuntimeError("PAYGATE_DATABASE_URL is not set (make dev sets it for you)")
        engine = create_engine(
            url,
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
        )
        app.state.db_engine = engine
        app.state.session_factory = create_session_factory(engine)
        try:
            yield
        finally:
            await engine.dispose()

    return lifespan


def provide_engine(state: State) -> AsyncEngine:
    """The app's engine, for the paths that run single statements on its pooled connections."""
    engine: AsyncEngine = state.db_engine
    return engine
