"""Gateway settings (prefix ``GATEWAY_``); the database and service token come from ``PAYGATE_``."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings, weak_secret_reason

EVENTS_OFF = "off"
DEV_JWT_SECRET = "dev-jwt-secret-change-me-0123456789abcdef"
EVENTS_URL_MISSING = (
    "GATEWAY_INTERNAL_EVENTS_URL is not set: reservations would not follow payment events (a payer who "
    "never comes back would leave a paid reservation unpaid); set it to where the dispatcher reaches "
    "this gateway's /internal/payment-events, or to 'off' to opt out on purpose"
)

JwtAlgorithm = Literal["HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", env_file=".env", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    internal_host: str = Field(
        default="127.0.0.1",
        description="Bind address of the internal listener: /internal/* (the dispatcher's partner lists and "
        "payment events) and /metrics. Never publish it; in a container 0.0.0.0 on a private network.",
    )
    internal_port: int = Field(
        default=8010,
        gt=0,
        lt=65536,
        description="Port of the internal listener (the public port never serves it).",
    )

    # --- tokens
    jwt_algorithm: JwtAlgorithm = Field(
        default="HS256",
        description="HS* signs with jwt_secret; RS*/ES*/PS* verify with jwt_public_key (external identity "
        "provider) and sign logins only when jwt_private_key is set.",
    )
    jwt_secret: SecretStr = Field(default=SecretStr(DEV_JWT_SECRET), description="HMAC key (HS*).")
    jwt_public_key: str = Field(default="", description="PEM public key for RS*/ES*/PS*.")
    jwt_private_key: SecretStr = Field(
        default=SecretStr(""), description="PEM private key: lets /auth/login issue RS*/ES* tokens."
    )
    jwt_issuer: str = "paygate-gateway"
    jwt_audience: str = "paygate"
    jwt_ttl_seconds: int = Field(default=900, gt=0, le=86_400, description="Access token lifetime.")
    jwt_leeway_seconds: int = Field(default=10, ge=0, le=300, description="Clock skew tolerated.")
    disabled_user_check_seconds: float = Field(
        default=5.0,
        ge=0,
        le=300,
        description="A disabled or deleted user's unexpired token is refused, and a changed role applies, "
        "within this many seconds (0: the user row is read on every request).",
    )

    # --- login throttling (shared by replicas through the login_throttles table); README "Login throttling"
    login_max_failures_per_account_address: int = Field(
        default=5,
        gt=0,
        description="Failures for one account from one client address, then that address is locked out "
        "of that account (only: the owner elsewhere still logs in).",
    )
    login_max_failures_per_address: int = Field(
        default=30,
        gt=0,
        description="Failures from one client address (any accounts), then it is locked out.",
    )
    login_account_slowdown_after: int = Field(
        default=10,
        gt=0,
        description="Failures for one account (from every address) after which an address that has "
        "failed on it must wait before its next try; an address that has not failed is never slowed.",
    )
    login_slowdown_seconds: float = Field(
        default=2.0, gt=0, le=3600, description="That wait, doubled on each further failure of the address."
    )
    login_window_seconds: int = Field(default=900, gt=0, description="Failures counted in this window.")
    login_lockout_seconds: int = Field(default=900, gt=0, description="How long a tripped key is locked.")

    # --- payment_ms
    payment_ms_url: str = Field(default="http://127.0.0.1:8001", description="Internal URL of payment_ms.")
    payment_ms_connect_timeout: float = Field(default=2.0, gt=0)
    payment_ms_read_timeout: float = Field(default=10.0, gt=0, description="Longest wait for response bytes.")
    payment_ms_timeout: float = Field(
        default=15.0, gt=0, description="Deadline of one forwarded call, retries included (then 504)."
    )
    payment_ms_retries: int = Field(default=2, ge=0, le=5, description="Extra attempts for safe calls.")
    payment_ms_pool_size: int = Field(default=100, gt=0, description="Keep-alive connections to payment_ms.")

    # --- browsers
    allowed_redirect_origins: list[str] = Field(
        default_factory=list,
        description="Origins return_url/cancel_url may point at (e.g. https://shop.example). "
        "In dev/test http://localhost and http://127.0.0.1 on any port are allowed as well.",
    )
    cors_origins: list[str] = Field(default_factory=list, description="Frontend origins allowed by CORS.")

    # --- partners and events
    internal_events_url: str = Field(
        default="",
        description="Where the dispatcher reaches this gateway's POST /internal/payment-events (e.g. "
        "http://gateway:8000/internal/payment-events): reservations follow their payments' events even "
        "when the payer never calls verify. Required outside dev (start-up stops without it); `off` opts "
        "out on purpose (reservations then follow payments only through the gateway's own calls).",
    )
    partner_allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Partner hosts accepted although not https/public (operator allow-list). "
        "Dev/test accept loopback too.",
    )
    secret_rotation_overlap_hours: int = Field(default=24, gt=0, le=168)

    # --- operator console and partner portal
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Where browsers reach this gateway: the base of the portal links it issues.",
    )
    console_session_seconds: int = Field(
        default=8 * 3600, gt=0, le=7 * 86_400, description="How long a console sign-in lasts."
    )
    portal_link_ttl_seconds: int = Field(
        default=900, gt=0, le=7 * 86_400, description="How long a partner portal link can be opened (once)."
    )
    portal_session_seconds: int = Field(
        default=3600, gt=0, le=86_400, description="How long a partner's portal session lasts."
    )
    partner_feed_settle_seconds: float = Field(
        default=2.0,
        ge=0,
        le=60,
        description="The pull feed serves events older than this, so one committed late is never skipped.",
    )

    @field_validator("internal_events_url")
    @classmethod
    def _events_url(cls, value: str) -> str:
        value = value.strip()
        if value in ("", EVENTS_OFF):
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"must be an http(s) URL or {EVENTS_OFF!r}")
        return value

    @property
    def is_symmetric(self) -> bool:
        return self.jwt_algorithm.startswith("HS")

    def invalid(self) -> list[str]:
        problems = super().invalid()
        if not self.is_symmetric and not self.jwt_public_key.strip():
            problems.append(
                f"GATEWAY_JWT_PUBLIC_KEY is not set (GATEWAY_JWT_ALGORITHM is {self.jwt_algorithm})"
            )
        return problems

    def production_problems(self) -> list[str]:
        problems = super().production_problems()
        if self.is_symmetric:
            reason = weak_secret_reason(self.jwt_secret.get_secret_value(), default=DEV_JWT_SECRET)
            if reason:
                problems.append(f"GATEWAY_JWT_SECRET {reason}")
        if not self.internal_events_url:
            problems.append(EVENTS_URL_MISSING)
        return problems

    @property
    def payment_events_url(self) -> str | None:
        """The URL the gateway lists itself under as a subscriber, or None (not set, or ``off``)."""
        url = self.internal_events_url
        return None if url in ("", EVENTS_OFF) else url


@lru_cache
def get_gateway_settings() -> GatewaySettings:
    return GatewaySettings()
