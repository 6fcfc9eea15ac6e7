"""The providers of one process, built from the settings it runs with: ``create_app(settings)`` keeps
one ``ProviderRegistry`` in ``app.state.providers`` and the dispatcher's reconciler builds its own
from the settings ``main`` hands it. One instance of each provider per registry (the Stripe one holds
an HTTP connection pool), built on first use."""

from __future__ import annotations

from payment_ms.providers.base import Provider
from payment_ms.providers.cash import CashProvider
from payment_ms.providers.mock import MockProvider
from payment_ms.settings import PaymentSettings


class ProviderRegistry:
    def __init__(self, settings: PaymentSettings) -> None:
        self.settings = settings
        self._instances: dict[str, Provider] = {}

    def get(self, name: str) -> Provider:
        provider = self._instances.get(name)
        if provider is None:
            provider = self._instances[name] = _build(name, self.settings)
        return provider

    async def aclose(self) -> None:
        while self._instances:
            _, provider = self._instances.popitem()
            await provider.aclose()


def _build(name: str, settings: PaymentSettings) -> Provider:
    if name == "mock":
        return MockProvider(settings)
    if name == "cash":
        return CashProvider(settings)
    if name == "stripe":
        from payment_ms.providers.stripe import StripeProvider

        return StripeProvider(settings)
    raise KeyError(name)
