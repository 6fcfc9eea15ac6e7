"""The one interface every provider implements, its errors, and the timed, counted call wrapper."""

from __future__ import annotations

import asyncio
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import RowMapping

from payment_ms.metrics.definitions import PROVIDER_ERRORS, PROVIDER_LATENCY
from payment_ms.settings import PaymentSettings
from shared.contracts import PaymentCreate, PaymentStatus, RefundStatus
from shared.problems import (
    ApplicationError,
    ConflictError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)

T = TypeVar("T")


class ProviderUnavailableError(UpstreamUnavailableError, title="The payment provider is unavailable"): ...


class ProviderTimeoutError(UpstreamTimeoutError, title="The payment provider did not answer in time"): ...


class ProviderInconsistentError(
    ApplicationError,
    status=502,
    code="provider-inconsistent",
    title="The payment provider answered inconsistently",
):
    """The provider answered something that contradicts what we already hold (nothing is written)."""


class ProviderRefusedError(
    ConflictError, code="provider-refused", title="The payment provider refused the operation"
):
    """The provider said no to a well-formed request (e.g. expiring a session the payer completed)."""


@dataclass(frozen=True, slots=True)
class CheckoutSession:
    session_id: str | None
    checkout_url: str | None
    provider_status: str | None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the provider says: the status our payment should have, and its own details."""

    status: PaymentStatus
    provider_status: str | None
    provider_payment_id: str | None = None
    failure_reason: str | None = None
    # What the provider says was captured (a partial capture); None: the whole amount.
    captured_amount: int | None = None


@dataclass(frozen=True, slots=True)
class ProviderRefund:
    """A refund as the provider reports it: ``pending`` ones (Stripe ``pending``/``requires_action``)
    are not done yet; amounts are ISO minor units."""

    refund_id: str | None
    status: RefundStatus
    amount: int
    failure_reason: str | None = None


class Provider(ABC):
    name: str
    # True when creating a checkout is a network call: it then runs outside the database transaction.
    remote: bool

    def __init__(self, settings: PaymentSettings) -> None:
        self.settings = settings

    @abstractmethod
    async def create_checkout(self, payment_id: uuid.UUID, data: PaymentCreate) -> CheckoutSession: ...

    @abstractmethod
    async def fetch_outcome(self, payment: RowMapping) -> Outcome: ...

    # Each command carries its own idempotency key (``payment_commands``): a retry of the same command
    # reuses it, another command never does.

    @abstractmethod
    async def cancel(self, payment: RowMapping, idempotency_key: str) -> str | None:
        """Expire the session (or release the authorization); returns the new provider status."""

    @abstractmethod
    async def capture(self, payment: RowMapping, amount: int, idempotency_key: str) -> str | None:
        """Capture ``amount`` (at most the authorized amount; the rest is released); returns the new
        provider status."""

    @abstractmethod
    async def refund(self, payment: RowMapping, amount: int, idempotency_key: str) -> ProviderRefund:
        """Refund ``amount``; a refund the provider failed at once raises ProviderRefusedError."""

    async def aclose(self) -> None:
        return None


async def call_provider(provider: Provider, operation: str, call: Awaitable[T]) -> T:
    """Every provider call goes through here: one deadline, latency and error metrics."""
    started = time.perf_counter()
    name = provider.name
    try:
        async with asyncio.timeout(provider.settings.provider_timeout_seconds):
            return await call
    except TimeoutError:
        PROVIDER_ERRORS.labels(name, operation, "timeout").inc()
        raise ProviderTimeoutError(f"{name} did not answer {operation} in time") from None
    except ProviderRefusedError:
        PROVIDER_ERRORS.labels(name, operation, "refused").inc()
        raise
    except ProviderTimeoutError:
        PROVIDER_ERRORS.labels(name, operation, "timeout").inc()
        raise
    except ProviderUnavailableError:
        PROVIDER_ERRORS.labels(name, operation, "unavailable").inc()
        raise
    finally:
        PROVIDER_LATENCY.labels(name, operation).observe(time.perf_counter() - started)
