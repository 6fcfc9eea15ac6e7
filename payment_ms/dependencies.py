"""Dependencies every payment_ms controller shares."""

from __future__ import annotations

from litestar.datastructures import State
from sqlalchemy.ext.asyncio import AsyncEngine


def provide_engine(state: State) -> AsyncEngine:
    engine: AsyncEngine = state.db_engine
    return engine
