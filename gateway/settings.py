"""Gateway settings (prefix ``GATEWAY_``); the database and service token come from ``PAYGATE_``."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings, non_negative, positive, weak_secret_reason

EVENTS_OFF = "off"
DEV_JWT_SECRET = "dev-jwt-secret-change-me-0123456789abcdef"
EVENTS_URL_MISSING = (
    "GATEWAY_INTERNAL_EVENTS_URL is not set: reservations would not follow payment events (a payer who "
    "never comes back would leave a paid reservation unpaid); set it to where the dispatcher reaches "
    "this gateway's /internal/payment-events, or to 'off' to opt out on purpose"
)

JwtAlgorithm = Literal["HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_")

    host: str = "127.0.0.1"
    port: int = 8000
    internal_host: str = Field(
        default="127.0.0.1",
        description="Bind address of the internal listener: /internal/* (the dispatcher's partner lists and "
        "payment events) and /metrics. Never publish it; in a container 0.0.0.0 on a private network.",
    )
    internal_port: int = positive(
        8010, "Port of the internal listener (the public port never serves it).", lt=65536
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
    jwt_ttl_seconds: int = positive(900, "Access token lifetime.", le=86_400)
    jwt_leeway_seconds: int = non_negative(10, "Clock skew tolerated.", le=300)
    disabled_user_check_seconds: float = non_negative(
        5.0,
        "A disabled or deleted user's unexpired token is refused, and a changed role applies, "
        "within this many seconds (0: the user row is read on every request).",
        le=300,
    )

    # --- login throttling (shared by replicas through the login_throttles table); README "Login throttling"
    login_max_failures_per_account_address: int = positive(
        5,
        "Failures for one account from one client address, then that address is locked out "
        "of that account (only: the owner elsewhere still logs in).",
    )
    login_max_failures_per_address: int = positive(
        30, "Failures from one client address (any accounts), then it is locked out."
    )
    login_account_slowdown_after: int = positive(
        10,
        "Failures for one account (from every address) after which an address that has "
        "failed on it must wait before its next try; an address that has not failed is never slowed.",
    )
    login_slowdown_seconds: float = positive(
        2.0, "That wait, doubled on each further failure of the address.", le=3600
    )
    login_window_seconds: int = positive(900, "Failures counted in this window.")
    login_lockout_seconds: int = positive(900, "How long a tripped key is locked.")

    # --- payment_ms
    payment_ms_url: str = Field(default="http://127.0.0.1:8001", description="Internal URL of payment_ms.")
    payment_ms_connect_timeout: float = positive(2.0)
    payment_ms_read_timeout: float = positive(10.0, "Longest wait for response bytes.")
    payment_ms_timeout: float = positive(15.0, "Deadline of one forwarded call, retries included (then 504).")
    payment_ms_retries: int = non_negative(2, "Extra attempts for safe calls.", le=5)
    payment_ms_pool_size: int = positive(100, "Keep-alive connections to payment_ms.")

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
    secret_rotation_overlap_hours: int = positive(24, le=168)

    # --- operator console and partner portal
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Where browsers reach this gateway: the base of the portal links it issues.",
    )
    console_session_seconds: int = positive(8 * 3600, "How long a console sign-in lasts.", le=7 * 86_400)
    portal_link_ttl_seconds: int = positive(
        900, "How long a partner portal link can be opened (once).", le=7 * 86_400
    )
    portal_session_seconds: int = positive(3600, "How long a partner's portal session lasts.", le=86_400)
    partner_feed_settle_seconds: float = non_negative(
        2.0, "The pull feed serves events older than this, so one committed late is never skipped.", le=60
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
