"""The webhook dispatcher: outbox events → signed, retried deliveries to partners.

Run it with ``python -m payment_ms.dispatcher``; operators replay with the functions exported here
(imported lazily: the worker process does not need the web stack they pull in).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from payment_ms.dispatcher.replay import replay_delivery, replay_partner_deliveries

__all__ = ["replay_delivery", "replay_partner_deliveries"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from payment_ms.dispatcher import replay

        return getattr(replay, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
