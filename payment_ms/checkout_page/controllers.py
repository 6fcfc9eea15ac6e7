"""``/checkout/mock/{session token}``: the payer's page, with approve / decline / abandon buttons.

The URL carries the session token (``payment_ms.providers.mock_sessions``), never just the payment id. Every
answer is HTML, errors included (a payer's browser shows it), and carries the page's security headers: no
framing, a CSP without inline script or style, no caching, no referrer to other sites. A form post must
carry the session's CSRF token and, when the browser says where it comes from (``Origin``,
``Sec-Fetch-Site``), come from this page's own origin. Its assets are its own (no other host).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from html import escape
from importlib.resources import files
from typing import Annotated
from urllib.parse import urlsplit

from litestar import Controller, MediaType, Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath
from litestar.response import Redirect
from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncEngine

from payment_ms.checkout_page import services
from payment_ms.dependencies import provide_mock_events
from payment_ms.providers import mock_sessions
from payment_ms.providers.mock import CHECKOUT_PREFIX, checkout_path
from shared.money_display import format_money, negotiate_locale
from shared.problems import ConflictError, NotFoundError

ASSETS = f"{CHECKOUT_PREFIX}/assets"
ASSET_TYPES = {"checkout.css": "text/css; charset=utf-8", "favicon.svg": "image/svg+xml"}
CHOICES = (("approve", "Approve"), ("decline", "Decline"), ("abandon", "Cancel and go back"))
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # Not no-referrer: under it a browser sends "Origin: null" with the page's own form posts.
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


def _origin(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else None


def _csp(form_targets: tuple[str | None, ...] = ()) -> str:
    # form-action also governs the redirect after the post: the merchant's return/cancel origins are allowed.
    targets = " ".join(dict.fromkeys(o for o in form_targets if o))
    return (
        "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'; "
        f"form-action 'self'{' ' + targets if targets else ''}"
    )


def _headers(form_targets: tuple[str | None, ...] = ()) -> dict[str, str]:
    return {**PAGE_HEADERS, "Content-Security-Policy": _csp(form_targets)}


def _page(
    title: str, body: str, status: int = 200, form_targets: tuple[str | None, ...] = ()
) -> Response[str]:
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f'<meta name="robots" content="noindex"><title>{escape(title)}</title>'
        f'<link rel="stylesheet" href="{ASSETS}/checkout.css"><link rel="icon" href="{ASSETS}/favicon.svg">'
        f"</head><body><main>{body}</main></body></html>"
    )
    return Response(html, status_code=status, media_type=MediaType.HTML, headers=_headers(form_targets))


def _message(title: str, text: str, status: int) -> Response[str]:
    return _page(title, f"<h1>{escape(title)}</h1><p>{text}</p>", status=status)


NOT_FOUND = (
    "Checkout not found",
    "This payment link is not valid. Go back to the shop and start again.",
    404,
)
EXPIRED = ("Checkout expired", "This payment link has expired. Go back to the shop and start again.", 410)
REFUSED = (
    "Request refused",
    "This form was not sent from its checkout page. Reload the page and try again.",
    403,
)


def _expiry(expires_at: datetime, now: datetime) -> str:
    minutes = max(1, round((expires_at - now).total_seconds() / 60))
    left = (
        f"{minutes} minute{'s' if minutes != 1 else ''}" if minutes < 120 else f"{round(minutes / 60)} hours"
    )
    stamp = expires_at.strftime("%-d %B %Y, %H:%M UTC")
    return f'This checkout expires <time datetime="{expires_at.isoformat()}">{stamp}</time> (in {left}).'


def _session_secret(request: Request) -> str:
    """The key the mock's session and CSRF tokens are minted under: ``PAYGATE_SERVICE_TOKEN``."""
    secret: str = request.app.state.settings.paygate.service_token.get_secret_value()
    return secret


def _checkout_body(
    row: RowMapping, session: mock_sessions.MockSession, token: str, locale: str, *, merchant: str, csrf: str
) -> str:
    buttons = "".join(
        f'<button type="submit" name="choice" value="{value}" id="{value}">{label}</button>'
        for value, label in CHOICES
    )
    description = row["description"] or "Payment"
    return (
        f'<p class="merchant">Pay <strong id="merchant">{escape(merchant)}</strong></p>'
        f'<h1 id="description">{escape(description)}</h1>'
        f'<p class="amount" id="amount">{escape(format_money(row["amount"], row["currency"], locale))}</p>'
        f'<p class="expires" id="expires">{_expiry(session.expires_at, datetime.now(UTC))}</p>'
        f'<form method="post" action="{escape(checkout_path(token))}">'
        f'<input type="hidden" name="csrf_token" value="{csrf}">{buttons}</form>'
        '<p class="note">This is paygate\'s test payment page: no money moves.</p>'
    )


def _closed(row: RowMapping) -> Response[str]:
    status = escape(row["status"])
    return _message(
        "Checkout closed",
        f'This checkout is no longer open (payment <span class="status" id="status">{status}</span>).',
        409,
    )


def _same_origin(request: Request) -> bool:
    """Browsers say where a form post comes from; a post from any other site (or ``null``) is refused."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    return origin is None or origin.lower() == _origin(request.app.state.settings.public_base_url)


@cache
def _asset(name: str) -> bytes:
    return (files("payment_ms.checkout_page") / "static" / name).read_bytes()


class MockCheckoutController(Controller):
    path = CHECKOUT_PREFIX
    tags = ["mock checkout"]
    include_in_schema = False
    dependencies = {"mock_events": Provide(provide_mock_events, sync_to_thread=False)}

    @get("/assets/{name:str}", operation_id="mockCheckoutAsset")
    async def asset(self, name: FromPath[str]) -> Response[bytes] | Response[str]:
        if name not in ASSET_TYPES:
            return _message(*NOT_FOUND)
        headers = {**_headers(), "Cache-Control": "public, max-age=3600"}
        return Response(_asset(name), media_type=ASSET_TYPES[name], headers=headers)

    async def _open_session(
        self, engine: AsyncEngine, token: str, secret: str
    ) -> tuple[mock_sessions.MockSession, RowMapping] | Response[str]:
        try:
            session = mock_sessions.read(token, secret=secret)
            row = await services.load_checkout(engine, session.payment_id)
        except (mock_sessions.InvalidSessionTokenError, NotFoundError):
            return _message(*NOT_FOUND)
        if not services.is_open(row):
            return _closed(row)
        if session.expired():
            return _message(*EXPIRED)
        return session, row

    @get("/{token:str}", operation_id="mockCheckoutPage")
    async def page(
        self, request: Request, engine: NamedDependency[AsyncEngine], token: FromPath[str]
    ) -> Response[str]:
        secret = _session_secret(request)
        opened = await self._open_session(engine, token, secret)
        if isinstance(opened, Response):
            return opened
        session, row = opened
        locale = negotiate_locale(request.headers.get("accept-language"))
        targets = (_origin(row["return_url"]), _origin(row["cancel_url"]))
        merchant = request.app.state.settings.merchant_name
        csrf = mock_sessions.csrf_token(session, secret=secret)
        body = _checkout_body(row, session, token, locale, merchant=merchant, csrf=csrf)
        return _page("Checkout", body, form_targets=targets)

    @post("/{token:str}", operation_id="mockCheckoutChoose", status_code=303)
    async def choose(
        self,
        request: Request,
        engine: NamedDependency[AsyncEngine],
        mock_events: NamedDependency[services.MockEvents],
        token: FromPath[str],
        data: Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Response[str] | Redirect:
        if not _same_origin(request):
            return _message(*REFUSED)
        secret = _session_secret(request)
        opened = await self._open_session(engine, token, secret)
        if isinstance(opened, Response):
            return opened
        session, _ = opened
        if not mock_sessions.csrf_matches(session, data.get("csrf_token", ""), secret=secret):
            return _message(*REFUSED)
        choice = data.get("choice", "")
        if choice not in dict(CHOICES):
            return _message("Choose an option", "Go back and press one of the buttons.", 400)
        try:
            result = await services.record_choice(engine, mock_events, session.payment_id, choice)
        except NotFoundError:
            return _message(*NOT_FOUND)
        except ConflictError:
            return _closed(await services.load_checkout(engine, session.payment_id))
        if result.redirect_to:
            return Redirect(result.redirect_to, status_code=303, headers=_headers())
        result_text = f'Result: <span id="result">{escape(result.provider_status)}</span>.'
        return _page(
            "Checkout finished", f"<h1>Thank you</h1><p>{result_text} You can close this window.</p>"
        )
