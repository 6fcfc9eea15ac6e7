"""The internal payment service."""

from __future__ import annotations

from litestar import Litestar
from litestar.openapi.config import OpenAPIConfig

from shared.app_factory import create_service_app
from shared.settings import get_paygate_settings


def create_app() -> Litestar:
    return create_service_app(
        "payment-ms",
        get_paygate_settings(),
        route_handlers=[],
        openapi=OpenAPIConfig(title="paygate payment_ms (internal)", version="0.1.0"),
    )
