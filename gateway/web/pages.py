"""Rendering the console's and the portal's pages: one Jinja2 environment, the security headers of
every page, HTML error pages, and the static assets (served by the gateway itself)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from litestar.types import ControllerRouterHandler, ExceptionHandlersMap

from shared.contracts import Event
from shared.events import public_body
from shared.money import CURRENCY_EXPONENTS, format_minor_units
from shared.problems import ApplicationError
from shared.static import STATIC_DIR

logger = logging.getLogger("gateway.web")

TEMPLATE_DIRS = [
    Path(__file__).parent / "templates",
    *(Path(__file__).parents[1] / p / "templates" for p in ("console", "portal")),
]

# The checkout page's headers: no framing, no sniffing, no referrer (portal links carry a token),
# nothing cached, and a CSP with no inline script (there is no script at all) and no other host.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def money(amount: int | None, currency: str) -> str:
    if amount is None:
        return ""
    if currency not in CURRENCY_EXPONENTS:
        return f"{amount} {currency}"
    return format_minor_units(amount, currency)


def when(value: datetime | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader([str(d) for d in TEMPLATE_DIRS]),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["money"] = money
    env.filters["when"] = when
    return env


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment()))


def page(name: str, status_code: int = 200, **context: Any) -> Template:
    return Template(template_name=name, context=context, status_code=status_code, headers=PAGE_HEADERS)


def add_page_headers(response: Response[Any]) -> Response[Any]:
    for key, value in PAGE_HEADERS.items():
        response.headers.setdefault(key, value)
    return response


def _problem_detail(exc: Exception) -> tuple[int, str, str]:
    if isinstance(exc, ApplicationError):
        return exc.status_code, exc.title, exc.detail
    if isinstance(exc, HTTPException):
        return exc.status_code, "Refused", str(exc.detail)
    logger.exception("page failed", exc_info=exc)
    return 500, "Something went wrong", "The error was logged."


def html_errors(layout: str) -> ExceptionHandlersMap:
    """Errors of a page as a page (in the console's or the portal's layout), never problem JSON."""

    def handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
        status, title, detail = _problem_detail(exc)
        headers = dict(PAGE_HEADERS)
        if isinstance(exc, ApplicationError):
            headers.update(exc.headers)
        return Template(
            template_name="error.html",
            context={"layout": layout, "title": title, "detail": detail, "status": status, "session": None},
            status_code=status,
            headers=headers,
            media_type=MediaType.HTML,
        )

    return {ApplicationError: handler, HTTPException: handler, Exception: handler}


def webhook_body(event: Event, *, payer_details: bool) -> str:
    """The body a delivery of ``event`` sends (the public shape), formatted for reading: the bytes sent
    are the compact form of the same JSON."""
    if event.data is None:
        return "(the payload was purged at the end of the retention period)"
    body = public_body(
        event.type,
        event.created_at,
        msgspec.json.encode(event.data),
        payer_details=payer_details,
        sequence=event.sequence,
    )
    return msgspec.json.format(body, indent=2).decode()


def static_router() -> ControllerRouterHandler:
    return create_static_files_router(
        path="/static",
        directories=[STATIC_DIR],
        name="static",
        include_in_schema=False,
        cache_control=None,
        send_as_attachment=False,
    )
