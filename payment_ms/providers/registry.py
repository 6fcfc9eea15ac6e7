"""One instance of each provider per process (the Stripe one holds an HTTP connection pool)."""

from __future__ import annotations

from payment_ms.providers.base import Provider
from payment_ms.providers.cash import CashProvider
from payment_ms.providers.mock import MockProvider

_instances: dict[str, Provider] = {}


def get_provider(name: str) -> Provider:
    provider = _instances.get(name)
    if provider is None:
        provider = _instances[name] = _build(name)
    return provider


def _build(name: str) -> Provider:
    if name == "mock":
        return MockProvider()
    if name == "cash":
        return CashProvider()
    if name == "stripe":
        from payment_ms.providers.stripe import StripeProvider

        return StripeProvider()
    raise KeyError(name)


async def close_providers() -> None:
    while _instances:
        _, provider = _instances.popitem()
        await provider.aclose()
