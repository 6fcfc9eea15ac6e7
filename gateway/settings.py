"""Gateway settings (prefix ``GATEWAY_``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", env_file=".env", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    payment_ms_url: str = Field(default="http://127.0.0.1:8001", description="Internal URL of payment_ms.")


settings = GatewaySettings()
