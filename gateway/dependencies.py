"""Dependencies every gateway controller shares: a database session and the settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, TypeVar

import msgspec
from litestar import Request
from litestar.datastructures import State
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from gateway.settings import GatewaySettings, get_gateway_settings
from shared.jsonbody import decode_json_body

StructT = TypeVar("StructT", bound=msgspec.Struct)

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


async def strictly(request: Request[Any, Any, Any], data: StructT) -> StructT:
    """Re-check a JSON body with msgspec's strict mode: Litestar converts leniently, so ``"2500"``
    would pass as an amount. ``data`` stays in the handler's signature for the OpenAPI schema."""
    return decode_json_body(await request.body(), type(data))
