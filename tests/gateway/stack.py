"""A payment_ms + gateway pair configured like a real deployment: the hosted checkout page on its
real public URL, Stripe webhook secrets, and CORS for a shop origin served by the test itself."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web

from shared.embedded_pg import free_port
from tests.fixtures.services import RunningService, run_service, service_env

STRIPE_WEBHOOK_SECRET = "whsec_test_gateway_passthrough_0123456789"
SHOP_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title></head>
<body><h1 id="title">{title}</h1></body></html>"""


@dataclass
class Stack:
    payment_ms: RunningService
    gateway: RunningService
    shop_url: str


@pytest.fixture(scope="package")
def shop_port() -> int:
    return free_port()


@pytest.fixture(scope="package")
def stack(database_url: str, log_dir: Path, shop_port: int) -> Iterator[Stack]:
    ms_port = free_port()
    shop_url = f"http://127.0.0.1:{shop_port}"
    ms_env = service_env(
        database_url,
        PAYMENT_MS_PUBLIC_BASE_URL=f"http://127.0.0.1:{ms_port}",
        PAYMENT_MS_STRIPE_WEBHOOK_SECRETS=STRIPE_WEBHOOK_SECRET,
    )
    with run_service("payment-ms", ms_env, log_dir, port=ms_port) as payment_ms:
        gw_env = service_env(
            database_url,
            GATEWAY_PAYMENT_MS_URL=payment_ms.url,
            GATEWAY_CORS_ORIGINS=json.dumps([shop_url]),
        )
        with run_service("gateway", gw_env, log_dir) as gateway:
            yield Stack(payment_ms, gateway, shop_url)


@pytest.fixture
async def shop(shop_port: int) -> AsyncIterator[str]:
    """The merchant's site: a landing page and the return/cancel pages the payer is sent back to."""

    async def page(request: web.Request) -> web.Response:
        title = {"/paid": "Thanks for paying", "/canceled": "Payment canceled"}.get(request.path, "Shop")
        return web.Response(text=SHOP_PAGE.format(title=title), content_type="text/html")

    app = web.Application()
    app.router.add_get("/{tail:.*}", page)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", shop_port).start()
    try:
        yield f"http://127.0.0.1:{shop_port}"
    finally:
        await runner.cleanup()
