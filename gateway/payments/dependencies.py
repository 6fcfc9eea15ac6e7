"""The shared payment_ms client, created once per app in the lifespan, and the payer's context."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.auth.guards import authenticate_user
from gateway.auth.tokens import AuthUser
from gateway.payments.client import PaymentMsClient
from gateway.payments.services import PaymentCommands
from shared.contracts import Actor


def provide_payment_ms(state: State) -> PaymentMsClient:
    client: PaymentMsClient = state.payment_ms
    return client


@dataclass(frozen=True, slots=True)
class Caller:
    """What a payment call needs, as ONE dependency: Litestar resolves several dependencies of a
    handler in an anyio task group per request, 13 % of the gateway's CPU on checkout (py-spy)."""

    actor: ClassVar[Actor]  # who the events of its commands name as their source
    user: AuthUser
    engine: AsyncEngine
    payment_ms: PaymentMsClient

    @property
    def commands(self) -> PaymentCommands:
        return PaymentCommands(self.engine, self.payment_ms, actor=self.actor)


class PayingUser(Caller):
    """A user paying for their own reservations."""

    actor = "payer"


class OperatingAdmin(Caller):
    """An admin acting on any payment."""

    actor = "operator"


CallerT = TypeVar("CallerT", bound=Caller)


def _caller(request: Request[Any, Any, Any], kind: type[CallerT]) -> CallerT:
    state = request.app.state
    return kind(authenticate_user(request), state.db_engine, state.payment_ms)


def provide_payer(request: Request[Any, Any, Any]) -> PayingUser:
    return _caller(request, PayingUser)


def provide_operator(request: Request[Any, Any, Any]) -> OperatingAdmin:
    return _caller(request, OperatingAdmin)


# What handlers declare: the parameter names the dependency (``payer``, ``operator``, ``payment_ms``).
Payer = NamedDependency[PayingUser]
Operator = NamedDependency[OperatingAdmin]
PaymentMs = NamedDependency[PaymentMsClient]
