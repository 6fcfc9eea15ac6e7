"""payment_ms's Prometheus metrics: what is measured (``definitions``) apart from where it is served
(``endpoint``, ``GET /metrics``)."""
