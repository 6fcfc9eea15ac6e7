"""The internal payment service: ``create_app(settings)`` (granian calls it without arguments: the
settings then come from the environment, and a configuration that must not run stops here)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from litestar import Litestar
from litestar.di import Provide
from litestar.openapi.spec import SecurityScheme

from payment_ms.checkout_page.controllers import MockCheckoutController
from payment_ms.checkout_page.services import MockEvents
from payment_ms.deliveries.controllers import DeliveryController, EventController, TestSendController
from payment_ms.dependencies import provide_engine
from payment_ms.metrics.definitions import PROMETHEUS
from payment_ms.metrics.endpoint import MetricsController
from payment_ms.openapi import DESCRIPTION, payment_rules
from payment_ms.payments.controllers import PaymentController
from payment_ms.providers.registry import ProviderRegistry
from payment_ms.settings import PaymentSettings, get_payment_settings
from payment_ms.stripe_webhooks.controllers import StripeWebhookController
from shared.app_factory import create_service_app
from shared.contracts import CaptureCreate, CashConfirmation, PaymentCreate, RefundCreate
from shared.openapi import amount_limit, api_docs
from shared.openapi_finalize import request_bodies
from shared.security import SERVICE_TOKEN_HEADER
from shared.settings_errors import settings_or_exit


def providers_lifespan(settings: PaymentSettings) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        providers = app.state.providers = ProviderRegistry(settings)
        events = MockEvents(app.state.db_engine, settings)
        app.state.mock_events = events
        try:
            yield
        finally:
            await events.aclose()
            await providers.aclose()

    return lifespan


def create_app(settings: PaymentSettings | None = None) -> Litestar:
    if settings is None:  # outside dev, missing or weak secrets stop here
        settings = settings_or_exit("payment-ms", get_payment_settings, "PAYMENT_MS_")
    docs, docs_routes = api_docs(
        settings.paygate,
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
                    "capturePayment": CaptureCreate,
                },
                optional=["capturePayment"],
            ),
            amount_limit(settings.paygate.max_amount, ["PaymentCreate", "RefundCreate", "CaptureCreate"]),
            payment_rules(settings),
        ],
    )
    return create_service_app(
        "payment-ms",
        settings,
        route_handlers=[
            MetricsController,
            *docs_routes,
            PaymentController,
            MockCheckoutController,
            StripeWebhookController,
            EventController,
            DeliveryController,
            TestSendController,
        ],
        lifespan=[providers_lifespan(settings)],
        dependencies={"engine": Provide(provide_engine, sync_to_thread=False)},  # every controller's
        middleware=[PROMETHEUS.middleware],
        openapi=docs,
    )
