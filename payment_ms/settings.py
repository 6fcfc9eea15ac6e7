"""payment_ms settings (prefix ``PAYMENT_MS_``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class PaymentSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PAYMENT_MS_", env_file=".env", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8001
    public_base_url: str = Field(
        default="http://127.0.0.1:8001",
        description="Where payers' browsers reach payment_ms's hosted mock checkout page.",
    )
    gateway_url: str = Field(default="http://127.0.0.1:8000", description="Internal URL of the gateway.")


settings = PaymentSettings()
