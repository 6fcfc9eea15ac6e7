"""What the events written in this task come from (``shared.contracts.EventSource``).

Set where a flow enters payment_ms (a route, a provider's event, the reconciler), read by the outbox
when it writes an event: the state machine and the refund and dispute code in between need not carry
it. A context variable, so concurrent requests each keep their own."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from shared.contracts import EventSource

_SOURCE: ContextVar[EventSource | None] = ContextVar("event_source", default=None)


def current_source() -> EventSource | None:
    return _SOURCE.get()


@contextmanager
def acting_as(source: EventSource | None) -> Iterator[None]:
    """Events written inside come from ``source`` (None: unknown, e.g. no ``Paygate-Actor`` header)."""
    token = _SOURCE.set(source)
    try:
        yield
    finally:
        _SOURCE.reset(token)
