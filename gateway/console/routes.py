"""The console's router: its pages under ``/console``, HTML errors, the page security headers."""

from __future__ import annotations

from litestar import Router

from gateway.console.access import to_login
from gateway.console.auth import ConsoleAuthController
from gateway.console.deliveries import ConsoleDeliveriesController
from gateway.console.overview import ConsoleOverviewController
from gateway.console.partners import ConsolePartnerLinksController, ConsolePartnersController
from gateway.console.payments import ConsolePaymentsController
from gateway.web.pages import add_page_headers, html_errors
from gateway.web.sessions import LoginRequired


def console_router() -> Router:
    return Router(
        path="/console",
        route_handlers=[
            ConsoleAuthController,
            ConsoleOverviewController,
            ConsolePaymentsController,
            ConsolePartnersController,
            ConsolePartnerLinksController,
            ConsoleDeliveriesController,
        ],
        exception_handlers={**html_errors("console/base.html"), LoginRequired: to_login},
        after_request=add_page_headers,
        include_in_schema=False,
    )
