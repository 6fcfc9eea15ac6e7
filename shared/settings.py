"""Settings both services read: the database and the service token between them, and the base of
each service's own settings.

Each service extends ``ServiceSettings`` with its own prefix (``GATEWAY_``, ``PAYMENT_MS_``,
``DISPATCHER_``); the shared values use ``PAYGATE_`` so one ``.env`` configures the whole deployment.
A service's settings are validated as a whole when they are built: values that cannot work refuse in
every mode, and outside dev (``PAYGATE_ENV``) missing or weak secrets refuse too, naming the setting
and never its value (``shared.settings_errors`` turns the errors into lines).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.proxies import X_FORWARDED_FOR, IPNetwork, parse_networks

MIN_SECRET_LENGTH = 32
MIN_DISTINCT_CHARACTERS = 10
WEAK_MARKERS = ("change-me", "changeme", "change_me", "example", "placeholder", "your-", "xxxx")
DEV_SERVICE_TOKEN = "dev-service-token-change-me"
# The pydantic error type of a service's start-up rules; its ``ctx["problems"]`` are one line each.
CONFIG_ERROR = "paygate_config"


def positive(default: Any, description: str | None = None, **limits: Any) -> Any:
    """A setting that must be above zero: a count, a size, a duration (``limits``: its other bounds)."""
    return Field(default=default, gt=0, description=description, **limits)


def non_negative(default: Any, description: str | None = None, **limits: Any) -> Any:
    """A setting that may be zero (its description says what zero means: off, never, at once)."""
    return Field(default=default, ge=0, description=description, **limits)


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
        default=SecretStr(DEV_SERVICE_TOKEN),
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
    max_amount: int = positive(
        100_000_000,
        "Largest amount, in minor units of any currency: the gateway refuses reservations above "
        "it and payment_ms payments above it.",
        le=10**15,
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


def weak_secret_reason(value: str, *, default: str = "", min_length: int = MIN_SECRET_LENGTH) -> str | None:
    """Why ``value`` is not acceptable as a production secret, or None."""
    if not value:
        return "is not set"
    if default and value == default:
        return "still has its development default"
    lowered = value.lower()
    if any(marker in lowered for marker in WEAK_MARKERS):
        return "looks like a placeholder"
    if len(value) < min_length:
        return f"is shorter than {min_length} characters"
    if len(set(value)) < MIN_DISTINCT_CHARACTERS:
        return "is not random enough"
    return None


def database_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be paygate's database URL (never quoting it: it may hold a password), or None."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from shared.db import normalize_database_url

    try:
        parsed = make_url(normalize_database_url(url))
    except (ArgumentError, ValueError):
        return "is not a database URL (postgresql://user:password@host:5432/paygate)"
    if parsed.drivername != "postgresql+asyncpg":
        return (
            f"is not a PostgreSQL URL (scheme {parsed.drivername!r}; expected "
            "postgresql://user:password@host:5432/paygate)"
        )
    return None


class ServiceSettings(BaseSettings):
    """A service's settings with the ``PAYGATE_`` ones it runs with (``paygate``, built from the
    environment unless given). Subclasses state their rules in ``invalid`` (refused in every mode)
    and ``production_problems`` (refused outside dev); the validator below applies them."""

    # A subclass names only its env_prefix: pydantic merges this into its own model_config.
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    paygate: PaygateSettings = Field(default_factory=PaygateSettings, exclude=True)

    def invalid(self) -> list[str]:
        """Combinations of values that cannot work, in any mode: one line each, naming the variable."""
        problems = []
        for name in ("database_url", "gateway_database_url", "payment_ms_database_url"):
            url = getattr(self.paygate, name, "")
            problem = database_url_problem(url) if url else None
            if problem:
                problems.append(f"PAYGATE_{name.upper()} {problem}")
        return problems

    def production_problems(self) -> list[str]:
        """What must not run outside dev: missing or weak secrets, one line each."""
        problems = []
        reason = weak_secret_reason(self.paygate.service_token.get_secret_value(), default=DEV_SERVICE_TOKEN)
        if reason:
            problems.append(f"PAYGATE_SERVICE_TOKEN {reason}")
        if not self.paygate.database_url:
            problems.append("PAYGATE_DATABASE_URL is not set")
        return problems

    @model_validator(mode="after")
    def _runnable(self) -> ServiceSettings:
        problems = self.invalid()
        if not problems and not self.paygate.is_dev:
            problems = self.production_problems()
        if problems:
            raise PydanticCustomError(CONFIG_ERROR, "; ".join(problems), {"problems": problems})
        return self

    def checked_for_production(self) -> list[str]:
        """Every problem this configuration would have outside dev, whatever ``PAYGATE_ENV`` says
        (``paygate config check``)."""
        return self.invalid() or self.production_problems()
