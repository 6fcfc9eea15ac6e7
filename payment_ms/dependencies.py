"""Dependencies every payment_ms controller shares."""

from __future__ import annotations

from litestar.datastructures import State

from payment_ms.checkout_page.services import MockEvents
from payment_ms.dispatcher.settings import DispatcherSettings
from shared.lifespan import provide_engine as provide_engine  # the controllers import it from here


def provide_mock_events(state: State) -> MockEvents:
    events: MockEvents = state.mock_events
    return events


def provide_dispatcher_settings(state: State) -> DispatcherSettings:
    """The dispatcher's settings (URL policy, timeout) for test sends, read once per app."""
    settings: DispatcherSettings | None = getattr(state, "dispatcher_settings", None)
    if settings is None:
        settings = state.dispatcher_settings = DispatcherSettings()
    return settings
