"""The HTTP transport from the gateway to payment_ms (``client.PaymentMsClient`` wraps it in typed calls).

Transport chosen by measuring N concurrent POSTs from one process (``python -m bench.transports``,
50 in flight, on this 2-core machine): httpx's own pool ~420 req/s at ~1.2 ms client CPU per
request, httpx on the httpx-aiohttp transport ~2,400 req/s at ~0.25 ms, aiohttp directly ~4,400
req/s at ~0.08 ms. The checkout hot path gets aiohttp.

Retries (tenacity, exponential backoff with jitter, a small cap) only for calls that are safe to
repeat: GETs, and POSTs that carry an ``Idempotency-Key``; only on connection errors and 502/503/504.
A timeout is never retried: the caller gets a 504 within ``GATEWAY_PAYMENT_MS_TIMEOUT``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import msgspec
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from gateway.settings import GatewaySettings
from shared.observability import current_request_id
from shared.problems import ApplicationError, UpstreamTimeoutError, UpstreamUnavailableError
from shared.security import REQUEST_ID_HEADER, SERVICE_TOKEN_HEADER

logger = logging.getLogger("gateway.payment_ms")

IDEMPOTENCY_HEADER = "Idempotency-Key"
RETRYABLE_STATUSES = frozenset({502, 503, 504})

QueryParams = Mapping[str, str] | Sequence[tuple[str, str]] | None


class BadGatewayError(
    ApplicationError, status=502, code="bad-gateway", title="The payment service answered unexpectedly"
): ...


@dataclass(frozen=True, slots=True)
class UpstreamResponse:
    status: int
    body: bytes
    content_type: str
    retry_after: str | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class _RetryableStatus(Exception):
    def __init__(self, response: UpstreamResponse) -> None:
        self.response = response


def _is_retryable(exc: BaseException) -> bool:
    """Connection failures and 502/503/504; never a timeout (the deadline is already spent)."""
    if isinstance(exc, TimeoutError):
        return False
    return isinstance(exc, aiohttp.ClientConnectionError | _RetryableStatus)


class PaymentMsTransport:
    def __init__(self, settings: GatewaySettings, service_token: str) -> None:
        self._base_url = settings.payment_ms_url.rstrip("/")
        self._service_token = service_token
        self._deadline = settings.payment_ms_timeout
        self._attempts = 1 + settings.payment_ms_retries
        self._timeout = aiohttp.ClientTimeout(
            total=None,
            connect=settings.payment_ms_connect_timeout,
            sock_read=settings.payment_ms_read_timeout,
        )
        self._pool_size = settings.payment_ms_pool_size
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self._pool_size, keepalive_timeout=30),
            timeout=self._timeout,
            raise_for_status=False,
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        params: QueryParams = None,
        idempotency_key: str | None = None,
        headers: Mapping[str, str] | None = None,
        retry: bool | None = None,
    ) -> UpstreamResponse:
        """One call to payment_ms; 503/504 problems when it cannot be reached in time.

        ``retry`` defaults to what is safe: GET, or a POST with an idempotency key.
        """
        if self._session is None:
            raise RuntimeError("PaymentMsTransport.start() was not called")
        body = msgspec.json.encode(json) if json is not None else content
        sent_headers = {SERVICE_TOKEN_HEADER: self._service_token, "Accept": "application/json"}
        if body is not None:
            sent_headers["Content-Type"] = "application/json"
        sent_headers.update(headers or {})
        request_id = current_request_id()
        if request_id:
            sent_headers[REQUEST_ID_HEADER] = request_id
        if idempotency_key is not None:
            sent_headers[IDEMPOTENCY_HEADER] = idempotency_key
        safe = method == "GET" or idempotency_key is not None
        attempts = self._attempts if (safe if retry is None else retry) else 1
        url = self._base_url + path
        try:
            async with asyncio.timeout(self._deadline):
                return await self._with_retries(
                    attempts, lambda: self._once(method, url, body, params, sent_headers)
                )
        except _RetryableStatus as exc:  # retries exhausted: pass payment_ms's own 502/503/504 on
            return exc.response
        except TimeoutError:
            logger.warning("payment_ms timed out: %s %s", method, path)
            raise UpstreamTimeoutError("The payment service did not answer in time.") from None
        except aiohttp.ClientError as exc:
            logger.warning("payment_ms unreachable: %s %s: %s", method, path, type(exc).__name__)
            raise UpstreamUnavailableError("The payment service is unavailable.") from None

    async def _with_retries(self, attempts: int, call: Callable[[], Any]) -> UpstreamResponse:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(attempts),
            wait=wait_exponential_jitter(multiplier=0.05, max=0.5, jitter=0.05),
            retry=retry_if_exception(_is_retryable),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                response: UpstreamResponse = await call()
        return response

    async def _once(
        self, method: str, url: str, body: bytes | None, params: QueryParams, headers: dict[str, str]
    ) -> UpstreamResponse:
        assert self._session is not None
        async with self._session.request(method, url, data=body, params=params, headers=headers) as response:
            result = UpstreamResponse(
                status=response.status,
                body=await response.read(),
                content_type=response.headers.get("Content-Type", "application/json"),
                retry_after=response.headers.get("Retry-After"),
            )
        if result.status in RETRYABLE_STATUSES:
            raise _RetryableStatus(result)
        return result
