"""Baseline (d) of the checkout scenario: the floor of any gateway in front of payment_ms.

Two routes of the floor app forward a ``PaymentCreate`` to payment_ms's ``POST /api/payments`` over
aiohttp, as the gateway does, with nothing else around them (no token, no reservation, no record):
``/proxy/payments`` passes the bytes through both ways; ``/proxy/payments/typed`` also decodes the
request into the contract, encodes it again and decodes payment_ms's answer into a ``Payment`` before
Litestar encodes it, the least a gateway that validates what it forwards must do. What
``checkout.gateway`` costs beyond them is the gateway's own work (auth, the reservation's read and
record, its checks); what they cost beyond ``checkout.direct`` is the hop itself: a second HTTP
server and an HTTP client on the same cores.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import aiohttp
import msgspec
from litestar import Litestar, Request, Response, post
from litestar.datastructures import State
from litestar.params import HeaderParameter, JSONBody

from shared.contracts import Payment, PaymentCreate
from shared.routes import PAYMENTS
from shared.security import SERVICE_TOKEN_HEADER

IdempotencyKey = Annotated[str, HeaderParameter(name="Idempotency-Key", min_length=1, max_length=255)]


@asynccontextmanager
async def payment_ms_session(app: Litestar) -> AsyncIterator[None]:
    """The gateway's transport settings: one keep-alive pool to payment_ms."""
    url = os.environ.get("BENCH_FLOOR_PAYMENT_MS_URL")
    if not url:
        yield
        return
    app.state.payment_ms_url = url.rstrip("/") + PAYMENTS
    app.state.service_token = os.environ["PAYGATE_SERVICE_TOKEN"]
    connector = aiohttp.TCPConnector(limit=int(os.environ.get("GATEWAY_PAYMENT_MS_POOL_SIZE", "100")))
    async with aiohttp.ClientSession(connector=connector) as session:
        app.state.payment_ms = session
        yield


async def _forward(state: State, body: bytes, idempotency_key: str) -> tuple[int, bytes]:
    headers = {
        SERVICE_TOKEN_HEADER: state.service_token,
        "Idempotency-Key": idempotency_key,
        "Content-Type": "application/json",
    }
    async with state.payment_ms.post(state.payment_ms_url, data=body, headers=headers) as answer:
        return answer.status, await answer.read()


@post("/proxy/payments", operation_id="floorProxyCreate", status_code=201)
async def proxy_create(
    request: Request[Any, Any, Any], state: State, idempotency_key: IdempotencyKey
) -> Response[bytes]:
    status, body = await _forward(state, await request.body(), idempotency_key)
    return Response(body, status_code=status, media_type="application/json")


@post("/proxy/payments/typed", operation_id="floorProxyCreateTyped", status_code=201)
async def proxy_create_typed(
    data: JSONBody[PaymentCreate], state: State, idempotency_key: IdempotencyKey
) -> Payment | Response[bytes]:
    status, body = await _forward(state, msgspec.json.encode(data), idempotency_key)
    if status != 201:
        return Response(body, status_code=status, media_type="application/json")
    return msgspec.json.decode(body, type=Payment)
