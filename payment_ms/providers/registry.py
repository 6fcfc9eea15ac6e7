"""One instance of each provider per process (the Stripe one holds an HTTP connection pool), built
from the settings the process runs with: the ones ``create_app(settings)`` was given
(``use_settings``), else ``get_payment_settings()``."""

from __future__ import annotations

from payment_ms.providers.base import Provider
from payment_ms.providers.cash import CashProvider
from payment_ms.providers.mock import MockProvider
from payment_ms.settings import PaymentSettings, get_payment_settings

_instances: dict[str, Provider] = {}
_settings: list[PaymentSettings] = []  # at most one: what use_settings() was given


async def use_settings(settings: PaymentSettings) -> None:
    """Providers are built from ``settings`` from now on (the ones built before are closed)."""
    await close_providers()
    _settings[:] = [settings]


def get_provider(name: str) -> Provider:
    provider = _instances.get(name)
    if provider is None:
        provider = _instances[name] = _build(name, _settings[0] if _settings else get_payment_settings())
    return provider


def _build(name: str, settings: PaymentSettings) -> Provider:
    if name == "mock":
        return MockProvider(settings)
    if name == "cash":
        return CashProvider(settings)
    if name == "stripe":
        from payment_ms.providers.stripe import StripeProvider

        return StripeProvider(settings)
    raise KeyError(name)


async def close_providers() -> None:
    while _instances:
        _, provider = _instances.popitem()
        await provider.aclose()
