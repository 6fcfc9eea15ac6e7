"""What every service's request metrics look like (Litestar's Prometheus plugin)."""

from __future__ import annotations

from litestar.plugins.prometheus import PrometheusConfig

LATENCY_BUCKETS: list[str | float] = [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]


def request_metrics(service: str) -> PrometheusConfig:
    """``<service>_requests_total`` and ``<service>_request_duration_seconds`` by method, route
    template (never the raw path: bounded label values) and status; ``/metrics`` itself not counted."""
    return PrometheusConfig(
        app_name=service, prefix=service, group_path=True, buckets=LATENCY_BUCKETS, exclude=["^/metrics"]
    )
