"""Settings both services read: the database and the service token between them.

Each service extends this with its own prefix (``GATEWAY_``, ``PAYMENT_MS_``); the shared values use
``PAYGATE_`` so one ``.env`` configures the whole deployment.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.proxies import X_FORWARDED_FOR, IPNetwork, parse_networks


class PaygateSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PAYGATE_", env_file=".env", extra="ignore")

    env: str = Field(default="dev", description="dev | test | prod. Outside dev, weak secrets stop start-up.")
    database_url: str = Field(
        default="",
        description="postgresql+asyncpg://… URL. Empty in dev: the dev runner starts an embedded PostgreSQL.",
    )
    gateway_database_url: str = Field(
        default="",
        description="The gateway's own role (paygate db roles grants it its tables only). Empty: "
        "PAYGATE_DATABASE_URL, the owner's; make dev derives it.",
    )
    payment_ms_database_url: str = Field(
        default="",
        description="payment_ms's and its dispatcher's own role (its tables only). Empty: the owner's.",
    )
    database_pool_size: int = Field(
        default=20, description="Connections each process keeps; about the requests it serves at once."
    )
    database_max_overflow: int = Field(
        default=0, description="Extra short-lived connections past the pool (opening them costs CPU)."
    )
    service_token: SecretStr = Field(
        default=SecretStr("dev-service-token-change-me"),
        description="Shared secret between gateway and payment_ms (header X-Service-Token).",
    )
    log_level: str = "INFO"
    log_json: bool | None = Field(default=None, description="JSON log lines; default: on outside dev.")
    access_log: bool = Field(default=True, description="One log line per HTTP request.")
    max_body_bytes: int = Field(default=1_048_576, description="Requests with a larger body get 413.")
    api_docs: bool = Field(
        default=True,
        description="Serve /schema (the docs UI, openapi.json, openapi.yaml); false: no /schema at all.",
    )
    max_amount: int = Field(
        default=100_000_000,
        gt=0,
        le=10**15,
        description="Largest amount, in minor units of any currency: the gateway refuses reservations above "
        "it and payment_ms payments above it.",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description='CIDRs of your reverse proxies, JSON (e.g. ["10.0.0.0/8"]). From a peer in them the '
        "client address is the right-most untrusted hop of PAYGATE_PROXY_HEADER (login throttling, "
        "access logs). Empty: the socket peer, and forwarding headers are ignored.",
    )
    proxy_header: Literal["x-forwarded-for", "forwarded"] = Field(
        default=X_FORWARDED_FOR,
        description="The header your trusted proxies append the client to: x-forwarded-for or forwarded "
        "(RFC 7239). Only that one is read, so a client cannot spoof the other.",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: list[str]) -> list[str]:
        return [str(network) for network in parse_networks(value)]

    @property
    def trusted_networks(self) -> tuple[IPNetwork, ...]:
        return parse_networks(self.trusted_proxies)

    def database_url_for(self, service: str) -> str:
        """The URL ``service`` (``gateway``, ``payment-ms``) connects with: its own role when configured."""
        own = {"gateway": self.gateway_database_url, "payment-ms": self.payment_ms_database_url}.get(service)
        return own or self.database_url

    @property
    def is_dev(self) -> bool:
        return self.env in {"dev", "test"}

    @property
    def json_logs(self) -> bool:
        return (not self.is_dev) if self.log_json is None else self.log_json


@lru_cache
def get_paygate_settings() -> PaygateSettings:
    return PaygateSettings()
