"""The shared payment_ms client, created once per app in the lifespan."""

from __future__ import annotations

from litestar.datastructures import State

from gateway.payments.client import PaymentMsClient


def provide_payment_ms(state: State) -> PaymentMsClient:
    client: PaymentMsClient = state.payment_ms
    return client
