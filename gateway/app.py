"""The public gateway."""

from __future__ import annotations

import logging

from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.di import Provide
from litestar.openapi.spec import SecurityScheme

from gateway.auth.controllers import AuthController, MeController
from gateway.auth.tokens import check_token_settings
from gateway.console.routes import console_router
from gateway.deliveries.controllers import AdminDeliveriesController
from gateway.dependencies import provide_db_engine, provide_db_session, provide_gateway_settings
from gateway.health.controllers import GatewayHealthController
from gateway.openapi import DESCRIPTION, LINKS
from gateway.partners.controllers import (
    OperationalEventInternalController,
    PartnerAdminController,
    PartnerInternalController,
)
from gateway.payments.client import payment_ms_lifespan
from gateway.payments.controllers.admin import AdminPaymentsController
from gateway.payments.controllers.payer import PaymentGatewayController
from gateway.payments.controllers.providers import ProviderWebhookController
from gateway.payments.dependencies import provide_payment_ms
from gateway.portal.api import PartnerFeedController, PortalLinkAdminController
from gateway.portal.routes import portal_router
from gateway.reservations.controllers import (
    PaymentEventsController,
    ReservationAdminController,
    ReservationController,
)
from gateway.settings import get_gateway_settings
from gateway.web.pages import static_router, template_config
from paygate.config_check import EVENTS_URL_MISSING, enforce_startup_config
from shared.app_factory import create_service_app
from shared.openapi import amount_limit, api_docs, signed_event_receiver
from shared.openapi_finalize import links
from shared.security import SERVICE_TOKEN_HEADER
from shared.settings import get_paygate_settings


def create_app() -> Litestar:
    enforce_startup_config("gateway")  # outside dev, missing or weak secrets stop here
    paygate_settings = get_paygate_settings()
    settings = get_gateway_settings()
    check_token_settings(settings, is_dev=paygate_settings.is_dev)
    docs, docs_routes = api_docs(
        paygate_settings,
        title="paygate gateway",
        description=DESCRIPTION,
        security_schemes={
            "BearerToken": SecurityScheme(
                type="http", scheme="bearer", bearer_format="JWT", description="From POST /auth/login"
            ),
            "PartnerToken": SecurityScheme(
                type="http", scheme="bearer", description="A partner API token (pgp_…) issued in the portal"
            ),
            "WebhookSignature": SecurityScheme(
                type="apiKey",
                name="webhook-signature",
                security_scheme_in="header",
                description="Standard Webhooks: HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}` "
                "with the secret derived from the service token (the dispatcher's built-in subscriber)",
            ),
            "ServiceToken": SecurityScheme(
                type="apiKey",
                name=SERVICE_TOKEN_HEADER,
                security_scheme_in="header",
                description="The token shared by paygate's services (internal routes only)",
            ),
        },
        finalizers=[
            amount_limit(paygate_settings.max_amount, ["ReservationCreate", "RefundCreate"]),
            signed_event_receiver("receivePaymentEvent"),
            links(LINKS),
        ],
    )
    app = create_service_app(
        "gateway",
        paygate_settings,
        route_handlers=[
            AuthController,
            MeController,
            ReservationController,
            ReservationAdminController,
            PaymentEventsController,
            PartnerAdminController,
            PartnerInternalController,
            OperationalEventInternalController,
            PaymentGatewayController,
            GatewayHealthController,
            ProviderWebhookController,
            AdminPaymentsController,
            AdminDeliveriesController,
            PortalLinkAdminController,
            PartnerFeedController,
            console_router(),
            portal_router(),
            static_router(),
            *docs_routes,
        ],
        template_config=template_config(),
        lifespan=[payment_ms_lifespan(settings, paygate_settings.service_token.get_secret_value())],
        dependencies={
            "db_session": Provide(provide_db_session),
            "db_engine": Provide(provide_db_engine, sync_to_thread=False),
            "payment_ms": Provide(provide_payment_ms, sync_to_thread=False),
            "gateway_settings": Provide(provide_gateway_settings, use_cache=True, sync_to_thread=False),
        },
        cors_config=CORSConfig(allow_origins=settings.cors_origins) if settings.cors_origins else None,
        openapi=docs,
    )
    if not settings.internal_events_url:  # dev/test only: outside dev enforce_startup_config stopped
        logging.getLogger("gateway").warning("%s (allowed in dev/test only)", EVENTS_URL_MISSING)
    return app
