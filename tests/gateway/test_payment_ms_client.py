"""The gateway's payment_ms client against a FAILING upstream: a tiny real HTTP server on 127.0.0.1
that answers 503 a given number of times (a fault injector, not a stand-in for payment_ms's logic).

Retries only for safe calls (GET, POST with an Idempotency-Key), on 502/503/504 and connection errors;
a POST without a key is sent once; nothing listening is a 503 problem."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from gateway.payments.transport import PaymentMsTransport, UpstreamResponse
from gateway.settings import GatewaySettings
from shared.embedded_pg import free_port
from shared.problems import UpstreamUnavailableError
from shared.security import SERVICE_TOKEN_HEADER

TOKEN = "client-test-token-0123456789abcdef"
RETRIES = 2


@dataclass
class FlakyUpstream:
    url: str = ""
    failures: int = 0  # how many requests get 503 before the first 200
    seen: list[tuple[str, str, str | None, str | None]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.seen.append(
            (
                request.method,
                request.path_qs,
                request.headers.get("Idempotency-Key"),
                request.headers.get(SERVICE_TOKEN_HEADER),
            )
        )
        if len(self.seen) <= self.failures:
            return web.json_response({"title": "busy"}, status=503)
        return web.json_response({"ok": True, "attempt": len(self.seen)})


@pytest.fixture
async def upstream() -> AsyncIterator[FlakyUpstream]:
    flaky = FlakyUpstream()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", flaky.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    flaky.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    try:
        yield flaky
    finally:
        await runner.cleanup()


async def _client(url: str) -> PaymentMsTransport:
    client = PaymentMsTransport(
        GatewaySettings(
            payment_ms_url=url,
            payment_ms_retries=RETRIES,
            payment_ms_connect_timeout=1.0,
            payment_ms_read_timeout=5.0,
            payment_ms_timeout=10.0,
        ),
        TOKEN,
    )
    await client.start()
    return client


async def _request(url: str, method: str, path: str, **options: Any) -> UpstreamResponse:
    """One call through a new client, closed afterwards whatever the call did."""
    client = await _client(url)
    try:
        return await client.request(method, path, **options)
    finally:
        await client.close()


async def test_a_get_is_retried_on_503(upstream: FlakyUpstream) -> None:
    upstream.failures = RETRIES
    answer = await _request(upstream.url, "GET", "/api/payments", params={"limit": "5"})
    assert answer.status == 200 and json.loads(answer.body) == {"ok": True, "attempt": 3}
    assert upstream.seen == [("GET", "/api/payments?limit=5", None, TOKEN)] * 3


async def test_retries_stop_at_the_cap_and_pass_the_last_503_on(upstream: FlakyUpstream) -> None:
    upstream.failures = 100
    answer = await _request(upstream.url, "GET", "/api/payments")
    assert answer.status == 503
    assert len(upstream.seen) == 1 + RETRIES


async def test_a_keyed_post_is_retried_with_the_same_key(upstream: FlakyUpstream) -> None:
    upstream.failures = 1
    answer = await _request(upstream.url, "POST", "/api/payments", json={"a": 1}, idempotency_key="k-1")
    assert answer.status == 200
    assert upstream.seen == [("POST", "/api/payments", "k-1", TOKEN)] * 2


async def test_a_post_without_a_key_is_sent_once(upstream: FlakyUpstream) -> None:
    upstream.failures = 1
    answer = await _request(upstream.url, "POST", "/api/payments/x/cancel")
    assert answer.status == 503
    assert upstream.seen == [("POST", "/api/payments/x/cancel", None, TOKEN)]


async def test_connection_refused_is_a_503_problem() -> None:
    with pytest.raises(UpstreamUnavailableError) as refused:
        await _request(f"http://127.0.0.1:{free_port()}", "GET", "/api/payments")  # nothing listens there
    assert refused.value.status_code == 503
