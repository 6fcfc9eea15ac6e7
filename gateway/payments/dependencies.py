"""The shared payment_ms client, created once per app in the lifespan, and the payer's context."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request
from litestar.datastructures import State
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.auth.guards import authenticate_user
from gateway.auth.tokens import AuthUser
from gateway.payments.client import PaymentMsClient
from gateway.payments.services import PaymentCommands


def provide_payment_ms(state: State) -> PaymentMsClient:
    client: PaymentMsClient = state.payment_ms
    return client


@dataclass(frozen=True, slots=True)
class Payer:
    """What a payer's payment call needs, as ONE dependency: Litestar resolves several dependencies of
    a handler in an anyio task group per request, 13 % of the gateway's CPU on checkout (py-spy)."""

    user: AuthUser
    engine: AsyncEngine
    payment_ms: PaymentMsClient

    @property
    def commands(self) -> PaymentCommands:
        return PaymentCommands(self.engine, self.payment_ms, actor="payer")


def provide_payer(request: Request[Any, Any, Any]) -> Payer:
    state = request.app.state
    return Payer(authenticate_user(request), state.db_engine, state.payment_ms)
