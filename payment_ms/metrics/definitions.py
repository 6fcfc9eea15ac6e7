"""What payment_ms measures. Requests and their latency come from Litestar's Prometheus plugin
(``PROMETHEUS``: ``payment_ms_requests_total``, ``payment_ms_request_duration_seconds`` by method,
route template and status); the rest is payment_ms's own. All of it lives in prometheus_client's
default registry, per process: with several granian workers, scrape each worker or run one per
container. ``payment_ms_payments`` is read from the database at scrape time, so it is the truth
across all processes."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from shared.metrics import request_metrics

PROMETHEUS = request_metrics("payment_ms")

PAYMENTS_BY_STATUS = Gauge("payment_ms_payments", "Payments in the database by status", ["status"])
TRANSITIONS = Counter("payment_ms_payment_events_total", "Payment events written (state changes)", ["type"])
PROVIDER_LATENCY = Histogram(
    "payment_ms_provider_call_duration_seconds",
    "Latency of calls to payment providers",
    ["provider", "operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
PROVIDER_ERRORS = Counter(
    "payment_ms_provider_errors_total", "Failed calls to payment providers", ["provider", "operation", "kind"]
)
