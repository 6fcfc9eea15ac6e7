"""The public gateway: ``create_app(settings)`` (granian calls it without arguments: the settings then
come from the environment, and a configuration that must not run stops here). Its internal routes are
served on the internal listener only (``gateway.internal``)."""

from __future__ import annotations

import logging

from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.di import Provide
from litestar.openapi.spec import SecurityScheme

from gateway.auth.controllers import AuthController, MeController
from gateway.console.routes import console_router
from gateway.deliveries.controllers import AdminDeliveriesController
from gateway.dependencies import provide_db_session, provide_gateway_settings
from gateway.health.controllers import GatewayHealthController
from gateway.internal import create_internal_app, internal_listener
from gateway.metrics.definitions import PROMETHEUS
from gateway.openapi import BEARER_TOKEN, DESCRIPTION, LINKS
from gateway.partners.controllers import PartnerAdminController
from gateway.partners.urls import partner_urls_documented
from gateway.payments.client import payment_ms_lifespan
from gateway.payments.controllers.admin import AdminPaymentsController
from gateway.payments.controllers.payer import PaymentGatewayController
from gateway.payments.controllers.providers import ProviderWebhookController
from gateway.payments.dependencies import provide_payment_ms
from gateway.payments.redirects import redirect_urls_documented
from gateway.portal.api import PartnerFeedController, PortalLinkAdminController
from gateway.portal.routes import portal_router
from gateway.reservations.controllers import ReservationAdminController, ReservationController
from gateway.settings import EVENTS_URL_MISSING, GatewaySettings, get_gateway_settings
from gateway.web.pages import static_router, template_config
from shared.app_factory import create_service_app
from shared.lifespan import provide_engine
from shared.openapi import amount_limit, api_docs
from shared.openapi_finalize import links, optional_bodies
from shared.settings_errors import settings_or_exit

PUBLIC_ROUTES = [
    AuthController,
    MeController,
    ReservationController,
    ReservationAdminController,
    PartnerAdminController,
    PaymentGatewayController,
    GatewayHealthController,
    ProviderWebhookController,
    AdminPaymentsController,
    AdminDeliveriesController,
    PortalLinkAdminController,
    PartnerFeedController,
]


def _dependencies() -> dict[str, object]:
    return {
        "db_session": Provide(provide_db_session),
        "db_engine": Provide(provide_engine, sync_to_thread=False),
        "payment_ms": Provide(provide_payment_ms, sync_to_thread=False),
        "gateway_settings": Provide(provide_gateway_settings, use_cache=True, sync_to_thread=False),
    }


def create_app(settings: GatewaySettings | None = None) -> Litestar:
    if settings is None:  # outside dev, missing or weak secrets stop here
        settings = settings_or_exit("gateway", get_gateway_settings, "GATEWAY_")
    service_token = settings.paygate.service_token.get_secret_value()
    internal = create_internal_app(settings, _dependencies())
    docs, docs_routes = api_docs(
        settings.paygate,
        title="paygate gateway",
        description=DESCRIPTION,
        security_schemes={
            "BearerToken": BEARER_TOKEN,
            "PartnerToken": SecurityScheme(
                type="http", scheme="bearer", description="A partner API token (pgp_…) issued in the portal"
            ),
        },
        finalizers=[
            amount_limit(settings.paygate.max_amount, ["ReservationCreate", "RefundCreate", "CaptureCreate"]),
            links(LINKS),
            optional_bodies(["adminCapture", "adminSendTestEvent"]),
            partner_urls_documented(
                allowed_hosts=settings.partner_allowed_hosts, allow_loopback=settings.paygate.is_dev
            ),
            redirect_urls_documented(
                settings.allowed_redirect_origins, allow_dev_hosts=settings.paygate.is_dev
            ),
        ],
    )
    app = create_service_app(
        "gateway",
        settings,
        route_handlers=[*PUBLIC_ROUTES, console_router(), portal_router(), static_router(), *docs_routes],
        template_config=template_config(),
        lifespan=[payment_ms_lifespan(settings, service_token), internal_listener(settings, internal)],
        middleware=[PROMETHEUS.middleware],
        dependencies=_dependencies(),
        cors_config=CORSConfig(allow_origins=settings.cors_origins) if settings.cors_origins else None,
        openapi=docs,
    )
    if not settings.internal_events_url:  # dev/test only: outside dev the settings refused this
        logging.getLogger("gateway").warning("%s (allowed in dev/test only)", EVENTS_URL_MISSING)
    return app
