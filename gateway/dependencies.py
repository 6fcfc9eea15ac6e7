"""Dependencies every gateway controller shares: a database session and the settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from litestar.datastructures import State
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from gateway.settings import GatewaySettings, get_gateway_settings
from shared.jsonbody import strictly as strictly  # the gateway's controllers import it from here

# Bounded like every integer query parameter: 9223372036854775808 was a 500 (int64 overflow in SQL).
MAX_OFFSET = 1_000_000
Offset = Annotated[int, Parameter(ge=0, le=MAX_OFFSET, description="Items to skip")]


async def provide_db_session(state: State) -> AsyncIterator[AsyncSession]:
    """One session per request; handlers open their own explicit transaction on it."""
    async with state.session_factory() as session:
        yield session


def provide_db_engine(state: State) -> AsyncEngine:
    """The engine itself, for the hot paths that run single statements on its pooled connections."""
    engine: AsyncEngine = state.db_engine
    return engine


def provide_gateway_settings() -> GatewaySettings:
    return get_gateway_settings()
