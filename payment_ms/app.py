"""The internal payment service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar, Router
from litestar.middleware import DefineMiddleware
from litestar.openapi.config import OpenAPIConfig

from paygate.config_check import enforce_startup_config
from payment_ms.checkout_page.controllers import MockCheckoutController
from payment_ms.checkout_page.services import MockEvents
from payment_ms.deliveries.controllers import DeliveryController, EventController, TestSendController
from payment_ms.metrics import MetricsController, MetricsMiddleware
from payment_ms.payments.controllers import PaymentController
from payment_ms.providers.registry import close_providers
from payment_ms.settings import settings
from payment_ms.stripe_webhooks.controllers import StripeWebhookController
from shared.app_factory import create_service_app
from shared.settings import get_paygate_settings


@asynccontextmanager
async def providers_lifespan(app: Litestar) -> AsyncIterator[None]:
    events = MockEvents(app.state.db_engine, settings)
    app.state.mock_events = events
    try:
        yield
    finally:
        await events.aclose()
        await close_providers()


def create_app() -> Litestar:
    enforce_startup_config("payment-ms")  # outside dev, missing or weak secrets stop here
    return create_service_app(
        "payment-ms",
        get_paygate_settings(),
        route_handlers=[
            MetricsController,
            # one Router so every payment_ms route is counted and timed
            Router(
                "/",
                route_handlers=[
                    PaymentController,
                    MockCheckoutController,
                    StripeWebhookController,
                    EventController,
                    DeliveryController,
                    TestSendController,
                ],
                middleware=[DefineMiddleware(MetricsMiddleware)],
            ),
        ],
        lifespan=[providers_lifespan],
        openapi=OpenAPIConfig(title="paygate payment_ms (internal)", version="0.1.0"),
    )
