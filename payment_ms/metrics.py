"""Prometheus metrics of payment_ms (``GET /metrics``).

Counters live per process: with several granian workers, scrape each worker or run one per container.
``payment_ms_payments`` (payments by status) is read from the database at scrape time, so it is the
truth across all processes.
"""

from __future__ import annotations

import time

from litestar import Controller, Response, get
from litestar.datastructures import State
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from shared.models import PAYMENT_STATUSES

REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_REQUESTS = Counter(
    "payment_ms_http_requests_total",
    "HTTP requests answered",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "payment_ms_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    registry=REGISTRY,
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
PAYMENTS_BY_STATUS = Gauge(
    "payment_ms_payments", "Payments in the database by status", ["status"], registry=REGISTRY
)
TRANSITIONS = Counter(
    "payment_ms_payment_events_total", "Payment events written (state changes)", ["type"], registry=REGISTRY
)
PROVIDER_LATENCY = Histogram(
    "payment_ms_provider_call_duration_seconds",
    "Latency of calls to payment providers",
    ["provider", "operation"],
    registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
PROVIDER_ERRORS = Counter(
    "payment_ms_provider_errors_total",
    "Failed calls to payment providers",
    ["provider", "operation", "kind"],
    registry=REGISTRY,
)


class MetricsMiddleware:
    """Pure ASGI: counts and times every routed request by its route template (bounded label values)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            route = scope.get("path_template") or "unmatched"
            method = scope.get("method", "")
            HTTP_REQUESTS.labels(method, route, str(status)).inc()
            HTTP_LATENCY.labels(method, route).observe(time.perf_counter() - started)


class MetricsController(Controller):
    path = "/metrics"
    tags = ["health"]
    include_in_schema = False

    @get("/", operation_id="metrics", summary="Prometheus metrics")
    async def metrics(self, state: State) -> Response[bytes]:
        from payment_ms.payments.queries import count_by_status

        try:
            counts = await count_by_status(state.db_engine)
        except Exception:  # the scrape still answers with what this process knows
            counts = None
        if counts is not None:
            for status in PAYMENT_STATUSES:
                PAYMENTS_BY_STATUS.labels(status).set(counts.get(status, 0))
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
