"""payment_ms's Prometheus metrics: what is measured (``definitions``, re-exported here) apart from where
it is served (``endpoint``, ``GET /metrics``)."""

from payment_ms.metrics.definitions import (
    PAYMENTS_BY_STATUS,
    PROMETHEUS,
    PROVIDER_ERRORS,
    PROVIDER_LATENCY,
    TRANSITIONS,
)

__all__ = ["PAYMENTS_BY_STATUS", "PROMETHEUS", "PROVIDER_ERRORS", "PROVIDER_LATENCY", "TRANSITIONS"]
