"""The gateway's Prometheus metrics: what is measured (``definitions``); the endpoint is Litestar's
``PrometheusController``, mounted on the internal listener only (``gateway.internal``)."""
