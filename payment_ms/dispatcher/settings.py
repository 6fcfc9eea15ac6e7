"""Dispatcher settings (prefix ``DISPATCHER_``). Durations are seconds (floats), so tests can shrink them.

Nothing is built at import time: the entry point builds them (``shared.settings_errors`` turns a bad
value into a message naming it)."""

from __future__ import annotations

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings, non_negative, positive

# A delivery is sent only while its lease outlasts a whole request by this much.
LEASE_MARGIN_SECONDS = 1.0
DEFAULT_RETRY_SCHEDULE = [5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0]


class DispatcherSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DISPATCHER_")

    gateway_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Internal URL of the gateway: partner lists and disabling endpoints that answered 410.",
    )
    worker_id: str = Field(default="", description="Name in leases and attempts; default host:pid:random.")
    batch_size: int = Field(default=200, ge=1, description="Deliveries claimed (events fanned) per query.")
    max_in_flight: int = Field(default=1000, ge=1, description="Deliveries held by this process at once.")
    per_partner_concurrency: int = Field(
        default=16,
        ge=1,
        description="Concurrent requests to one partner; its claimed backlog is max(2 x this, batch_size).",
    )
    lease_seconds: float = positive(60.0, "A claim lasts this long; a dead worker's deliveries return after.")
    request_timeout_seconds: float = positive(15.0, "Whole-request timeout.")

    @field_validator("request_timeout_seconds")
    @classmethod
    def _fits_in_the_lease(cls, timeout: float, info: ValidationInfo) -> float:
        """With a lease no longer than a request (and its margin) nothing would ever be sent."""
        lease = info.data.get("lease_seconds")
        if lease is not None and timeout + LEASE_MARGIN_SECONDS >= lease:
            margin = f"{LEASE_MARGIN_SECONDS:g} s"
            raise ValueError(f"must be more than {margin} shorter than DISPATCHER_LEASE_SECONDS ({lease:g})")
        return timeout

    retry_schedule_seconds: list[float] = Field(
        default_factory=lambda: list(DEFAULT_RETRY_SCHEDULE),
        description="Delays after each failed attempt (JSON list); past its end a delivery is failed.",
    )
    retry_jitter: float = non_negative(0.2, "±fraction applied to each delay.", lt=1)
    max_retry_after_seconds: float = non_negative(86400.0, "Cap on a partner's Retry-After.")
    poll_interval_seconds: float = positive(
        5.0, "Fallback poll when no notification arrives (LISTEN wakes at once)."
    )
    partner_cache_ttl_seconds: float = non_negative(5.0, "Partner lists are cached this long.")
    gateway_timeout_seconds: float = positive(5.0)
    fan_out_max_backoff_seconds: float = positive(
        60.0, "Longest wait before asking an unreachable gateway again."
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host names or IP networks (CIDR) exempt from the https/public-address rule (JSON list).",
    )
    allow_loopback: bool | None = Field(
        default=None, description="Allow http and loopback targets; default: on when PAYGATE_ENV is dev/test."
    )

    def loopback_allowed(self, is_dev: bool) -> bool:
        """``allow_loopback``, or on in dev/test when it is not set."""
        return is_dev if self.allow_loopback is None else self.allow_loopback

    metrics_port: int = non_negative(0, "Prometheus /metrics port; 0 turns it off.")
    metrics_host: str = "127.0.0.1"
    stats_interval_seconds: float = positive(5.0, "Queue depth gauges refresh.")
    reconcile_interval_seconds: float = non_negative(
        60.0, "How often stuck payments are looked for; 0 turns it off."
    )
    reconcile_after_seconds: float = positive(
        900.0, "A pending/processing payment older than this is re-verified."
    )
    reconcile_batch: int = Field(default=50, ge=1)
    authorization_expiry_seconds: float = positive(
        7 * 86400.0, "A manual-capture hold not captured within this long is released by reconciliation."
    )

    # --- endpoint health, throttling, retention, operational events
    throttle_backoff_seconds: float = positive(
        30.0, "How long a partner that answered 429 without Retry-After is left alone."
    )
    health_failure_span_seconds: float = non_negative(
        432000.0, "A partner whose every attempt failed for this long is disabled (5 days; 0: never)."
    )
    health_max_consecutive_failures: int = non_negative(
        0, "A partner failing this many attempts in a row is disabled (0: never)."
    )
    retention_days: float = positive(90.0, "Event payloads and attempt bodies older than this are purged.")
    retention_batch: int = Field(
        default=500, ge=1, description="Events purged per statement (small: no blocking)."
    )
    maintenance_interval_seconds: float = non_negative(
        60.0, "How often retention and the ordering check run; 0 turns them off."
    )
    operator_webhook_url: str = Field(
        default="",
        description="Where endpoint.disabled/enabled/secret_rotated events are POSTed, signed (empty: only "
        "logged and counted).",
    )
    operator_webhook_secret: SecretStr = Field(
        default=SecretStr(""),
        description="whsec_ secret signing the operator's events (required with the URL).",
    )
    operational_poll_seconds: float = positive(
        5.0, "How often the gateway is asked for new endpoint.* events."
    )

    @field_validator("operator_webhook_secret")
    @classmethod
    def _operator_secret(cls, secret: SecretStr, info: ValidationInfo) -> SecretStr:
        if info.data.get("operator_webhook_url") and not secret.get_secret_value().startswith("whsec_"):
            raise ValueError("must be a whsec_ secret when DISPATCHER_OPERATOR_WEBHOOK_URL is set")
        return secret
