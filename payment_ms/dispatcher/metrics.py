"""Prometheus metrics of the dispatcher, served on ``DISPATCHER_METRICS_PORT`` (0 = off)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

DELIVERIES = Counter(
    "paygate_webhook_deliveries_total",
    "Delivery outcomes: succeeded, retrying, failed, gone (410), throttled (429), canceled, held "
    "(partner disabled), released (handed back).",
    ["outcome"],
)
ATTEMPT_SECONDS = Histogram(
    "paygate_webhook_attempt_seconds",
    "Duration of one HTTP attempt to a partner.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30),
)
QUEUE_DEPTH = Gauge("paygate_webhook_queue_depth", "Pending deliveries that are due now (all workers).")
OLDEST_DUE_AGE = Gauge(
    "paygate_webhook_oldest_due_age_seconds", "How long the oldest due delivery has been waiting."
)
UNFANNED_EVENTS = Gauge("paygate_webhook_unfanned_events", "Events not yet turned into deliveries.")
HELD = Gauge(
    "paygate_webhook_held",
    "Pending deliveries waiting: for an earlier event of their payment (ordering) or their partner to be "
    "enabled again (disabled).",
    ["reason"],
)
PURGED = Counter(
    "paygate_webhook_purged_total",
    "Retention: event payloads and attempt bodies purged.",
    ["what"],
)
IN_FLIGHT = Gauge("paygate_webhook_in_flight", "Deliveries held by this process.")
ENDPOINTS_DISABLED = Counter(
    "paygate_webhook_endpoints_disabled_total",
    "Partner endpoints this dispatcher had disabled: gone (410) or health (the health policy).",
    ["reason"],
)
OPERATIONAL_EVENTS = Counter(
    "paygate_operational_events_total",
    "endpoint.* events processed (logged, sent to the operator's endpoint when one is set).",
    ["type", "outcome"],
)
