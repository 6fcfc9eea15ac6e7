"""Dependencies every gateway controller shares: a database session and the settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, TypeVar

import msgspec
from litestar import Request
from litestar.datastructures import State
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from gateway.settings import GatewaySettings
from shared.jsonbody import decode_json_body

StructT = TypeVar("StructT", bound=msgspec.Struct)


async def provide_db_session(state: State) -> AsyncIterator[AsyncSession]:
    """One session per request; handlers open their own explicit transaction on it."""
    async with state.session_factory() as session:
        yield session


def provide_db_engine(state: State) -> AsyncEngine:
    """The engine itself, for the hot paths that run single statements on its pooled connections."""
    engine: AsyncEngine = state.db_engine
    return engine


def provide_gateway_settings(state: State) -> GatewaySettings:
    """The settings ``create_app`` was given."""
    settings: GatewaySettings = state.settings
    return settings


async def strictly(request: Request[Any, Any, Any], data: StructT) -> StructT:
    """Re-check a JSON body with msgspec's strict mode: Litestar converts leniently, so ``"2500"``
    would pass as an amount. ``data`` stays in the handler's signature for the OpenAPI schema."""
    return decode_json_body(await request.body(), type(data))
