"""The portal's router: its pages under ``/portal``, HTML errors, the page security headers."""

from __future__ import annotations

from litestar import Router

from gateway.portal.access import signed_out
from gateway.portal.entry import PortalEntryController
from gateway.portal.pages import PortalController, PortalReadsController
from gateway.web.pages import add_page_headers, html_errors
from gateway.web.sessions import LoginRequired


def portal_router() -> Router:
    return Router(
        path="/portal",
        route_handlers=[PortalEntryController, PortalController, PortalReadsController],
        exception_handlers={**html_errors("portal/base.html"), LoginRequired: signed_out},
        after_request=add_page_headers,
        include_in_schema=False,
    )
