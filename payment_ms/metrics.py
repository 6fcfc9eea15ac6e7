"""Prometheus metrics of payment_ms (``GET /metrics``).

Counters live per process: with several granian workers, scrape each worker or run one per container.
``payment_ms_payments`` (payments by status) is read from the database at scrape time, so it is the
truth across all processes.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

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
