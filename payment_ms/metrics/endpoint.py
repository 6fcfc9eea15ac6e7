"""``GET /metrics``: Litestar's Prometheus endpoint, with the payments-by-status gauge refreshed from
the database first."""

from __future__ import annotations

from litestar import Response, get
from litestar.datastructures import State
from litestar.plugins.prometheus import PrometheusController

from payment_ms.metrics.definitions import PAYMENTS_BY_STATUS
from payment_ms.payments.queries import count_by_status
from shared.models import PAYMENT_STATUSES


class MetricsController(PrometheusController):
    tags = ["health"]
    include_in_schema = False

    @get("/", operation_id="metrics", summary="Prometheus metrics")
    async def get(self, state: State) -> Response:
        try:
            counts = await count_by_status(state.db_engine)
        except Exception:  # the scrape still answers with what this process knows
            counts = None
        if counts is not None:
            for status in PAYMENT_STATUSES:
                PAYMENTS_BY_STATUS.labels(status).set(counts.get(status, 0))
        return await super().get.fn(self)
