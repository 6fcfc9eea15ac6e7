"""The internal payment service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar, Router
from litestar.middleware import DefineMiddleware
from litestar.openapi.spec import SecurityScheme

from paygate.config_check import enforce_startup_config
from payment_ms.checkout_page.controllers import MockCheckoutController
from payment_ms.checkout_page.services import MockEvents
from payment_ms.deliveries.controllers import DeliveryController, EventController, TestSendController
from payment_ms.metrics import MetricsController, MetricsMiddleware
from payment_ms.openapi import DESCRIPTION
from payment_ms.payments.controllers import PaymentController
from payment_ms.providers.registry import close_providers
from payment_ms.settings import settings
from payment_ms.stripe_webhooks.controllers import StripeWebhookController
from shared.app_factory import create_service_app
from shared.contracts import CashConfirmation, PaymentCreate, RefundCreate
from shared.openapi import amount_limit, api_docs
from shared.openapi_finalize import request_bodies
from shared.security import SERVICE_TOKEN_HEADER
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
    paygate_settings = get_paygate_settings()
    docs, docs_routes = api_docs(
        paygate_settings,
        title="paygate payment_ms (internal)",
        description=DESCRIPTION,
        security_schemes={
            "ServiceToken": SecurityScheme(
                type="apiKey",
                name=SERVICE_TOKEN_HEADER,
                security_scheme_in="header",
                description="The token shared by paygate's services (PAYGATE_SERVICE_TOKEN)",
            ),
        },
        finalizers=[
            request_bodies(
                {
                    "createPayment": PaymentCreate,
                    "refundPayment": RefundCreate,
                    "confirmCashPayment": CashConfirmation,
                }
            ),
            amount_limit(paygate_settings.max_amount, ["PaymentCreate", "RefundCreate"]),
        ],
    )
    return create_service_app(
        "payment-ms",
        paygate_settings,
        route_handlers=[
            MetricsController,
            *docs_routes,
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
        openapi=docs,
    )
