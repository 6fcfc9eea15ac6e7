"""Dependencies every gateway controller shares: a database session and the settings."""

from __future__ import annotations

from collections.abc import AsyncIterator

from litestar.datastructures import State
from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from gateway.auth.tokens import AuthUser
from gateway.settings import GatewaySettings
from shared.jsonbody import strictly as strictly  # the gateway's controllers import it from here

# A handler's parameter of one of these types names the dependency it is given (Litestar 3 will not
# infer it from the parameter's name).
DbSession = NamedDependency[AsyncSession]
DbEngine = NamedDependency[AsyncEngine]
Settings = NamedDependency[GatewaySettings]
CurrentUser = NamedDependency[AuthUser]


async def provide_db_session(state: State) -> AsyncIterator[AsyncSession]:
    """One session per request; handlers open their own explicit transaction on it."""
    async with state.session_factory() as session:
        yield session


def provide_gateway_settings(state: State) -> GatewaySettings:
    """The settings ``create_app`` was given."""
    settings: GatewaySettings = state.settings
    return settings
