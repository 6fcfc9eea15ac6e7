"""Dependencies every payment_ms controller shares."""

from __future__ import annotations

from litestar.datastructures import State
from sqlalchemy.ext.asyncio import AsyncEngine

from payment_ms.checkout_page.services import MockEvents


def provide_engine(state: State) -> AsyncEngine:
    engine: AsyncEngine = state.db_engine
    return engine


def provide_mock_events(state: State) -> MockEvents:
    events: MockEvents = state.mock_events
    return events
