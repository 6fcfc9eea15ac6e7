"""What the gateway measures. Requests and their latency come from Litestar's Prometheus plugin
(``PROMETHEUS``: ``gateway_requests_total``, ``gateway_request_duration_seconds`` by method, route
template and status, on both listeners); calls to payment_ms and logins are the gateway's own. All of
it lives in prometheus_client's default registry, per process (with several granian workers, each
worker answers for itself)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from shared.metrics import request_metrics

PROMETHEUS = request_metrics("gateway")

UPSTREAM_CALLS = Counter(
    "gateway_payment_ms_calls_total",
    "Calls to payment_ms by route template and outcome (HTTP status, timeout or unavailable)",
    ["method", "route", "outcome"],
)
UPSTREAM_LATENCY = Histogram(
    "gateway_payment_ms_call_duration_seconds",
    "Latency of calls to payment_ms, retries included",
    ["method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15),
)
LOGINS = Counter(
    "gateway_logins_total",
    "Login attempts by outcome: succeeded, refused (bad credentials), throttled",
    ["outcome"],
)
