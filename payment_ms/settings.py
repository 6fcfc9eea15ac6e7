"""payment_ms settings (prefix ``PAYMENT_MS_``), built by ``get_payment_settings()`` (nothing at import)."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from shared.settings import ServiceSettings, non_negative, positive

MOCK_PROVIDER_REFUSED = (
    "PAYMENT_MS_DEFAULT_PROVIDER is mock: anyone who reaches its checkout page marks a payment paid, for "
    "free; set stripe (or cash), or PAYMENT_MS_ALLOW_MOCK_PROVIDER=true for a demo"
)

# The Stripe API version paygate is written against (docs.stripe.com/api/versioning, December 2026).
STRIPE_API_VERSION = "2026-09-30.endive"


class PaymentSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PAYMENT_MS_")

    host: str = "127.0.0.1"
    port: int = 8001
    public_base_url: str = Field(
        default="http://127.0.0.1:8001",
        description="Where payers' browsers reach payment_ms's hosted mock checkout page.",
    )

    default_provider: Literal["mock", "stripe", "cash"] = Field(
        default="mock",
        description="Provider of a payment created without one. Outside dev the mock needs "
        "PAYMENT_MS_ALLOW_MOCK_PROVIDER.",
    )
    allow_mock_provider: bool = Field(
        default=False,
        description="Outside dev, payment_ms refuses to start with the mock provider (anyone who reaches "
        "its checkout page marks a payment paid, for free) and refuses mock payments, unless this is "
        "true: demos only (compose's mock-checkout profile). Dev and test always allow it.",
    )
    idempotency_ttl_hours: int = Field(
        default=24, ge=24, description="Idempotency keys are kept at least this long (purge_expired_keys)."
    )
    idempotency_lease_seconds: float = positive(
        30.0, "An in-flight idempotency key whose request died becomes retryable after this lease."
    )
    provider_timeout_seconds: float = positive(
        10.0, "A provider call taking longer fails with 504 (mock 'slow' mode)."
    )
    mock_event_delay_seconds: float = non_negative(
        0.0, "The mock provider sends its event this long after the payer's choice (0: at once)."
    )
    mock_checkout_ttl_seconds: int = Field(
        default=3600,
        ge=60,
        le=86_400,
        description="How long a mock checkout link works; an unpaid one then reads as canceled (expired).",
    )
    merchant_name: str = Field(
        default="paygate demo shop",
        min_length=1,
        max_length=100,
        description="Who the payer pays, as the hosted mock checkout page names it.",
    )
    mock_slow_seconds: float = non_negative(
        2.0, "How long the mock provider stalls when metadata.mock_behavior=slow."
    )

    stripe_secret_key: SecretStr = Field(default=SecretStr(""), description="sk_test_… / sk_live_…")
    stripe_api_base: str = Field(default="https://api.stripe.com", description="Stripe's API origin.")
    stripe_api_version: str = Field(
        default=STRIPE_API_VERSION,
        min_length=1,
        description="Stripe-Version sent on every request: the response shapes paygate reads are this "
        "version's (set the webhook endpoint to the same version in Stripe's Dashboard).",
    )
    stripe_webhook_secrets: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated whsec_… signing secrets; several during a rotation.",
    )
    stripe_webhook_tolerance_seconds: int = positive(300)
    stripe_max_attempts: int = Field(default=3, ge=1, description="Tries for retry-safe Stripe requests.")

    @field_validator("stripe_webhook_secrets", mode="before")
    @classmethod
    def _split_secrets(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    def production_problems(self) -> list[str]:
        problems = super().production_problems()
        if self.default_provider == "mock" and not self.allow_mock_provider:
            problems.append(MOCK_PROVIDER_REFUSED)
        key = self.stripe_secret_key.get_secret_value()
        if self.default_provider != "stripe" and not key:
            return problems
        if not key:
            problems.append("PAYMENT_MS_STRIPE_SECRET_KEY is not set (the Stripe provider is on)")
        elif not key.startswith(("sk_test_", "sk_live_", "rk_test_", "rk_live_")):
            problems.append("PAYMENT_MS_STRIPE_SECRET_KEY is not a Stripe secret key (sk_… or rk_…)")
        webhook_secrets = [secret.get_secret_value() for secret in self.stripe_webhook_secrets]
        if not webhook_secrets:
            problems.append("PAYMENT_MS_STRIPE_WEBHOOK_SECRETS is not set (the Stripe provider is on)")
        elif not all(secret.startswith("whsec_") and len(secret) > 20 for secret in webhook_secrets):
            problems.append("PAYMENT_MS_STRIPE_WEBHOOK_SECRETS holds a value that is not a whsec_… secret")
        return problems


@lru_cache
def get_payment_settings() -> PaymentSettings:
    return PaymentSettings()
