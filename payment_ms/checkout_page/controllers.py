"""``/checkout/mock/{payment_id}``: a real HTML page with approve / decline / abandon forms."""

from __future__ import annotations

from html import escape
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from litestar import Controller, MediaType, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath
from litestar.response import Redirect
from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncEngine

from payment_ms.checkout_page import services
from payment_ms.dependencies import provide_engine, provide_mock_events
from payment_ms.providers.mock import checkout_path
from shared.money import format_minor_units
from shared.problems import ConflictError


class PayerChoice(msgspec.Struct):
    choice: Literal["approve", "decline", "abandon"]


_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#222}"
    "form{display:inline}button{font-size:1rem;padding:.6rem 1.2rem;margin:.3rem;border-radius:.4rem;"
    "border:1px solid #888;cursor:pointer}#approve{background:#1a7f37;color:#fff}"
    "#decline{background:#cf222e;color:#fff}.amount{font-size:2rem;font-weight:600}"
)


def _page(title: str, body: str, status: int = 200) -> Response[str]:
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>{body}</body></html>"
    )
    return Response(html, status_code=status, media_type=MediaType.HTML)


def _checkout_body(row: RowMapping) -> str:
    action = escape(checkout_path(row["id"]))
    buttons = "".join(
        f'<form method="post" action="{action}"><input type="hidden" name="choice" value="{value}">'
        f'<button type="submit" id="{value}">{label}</button></form>'
        for value, label in (("approve", "Approve"), ("decline", "Decline"), ("abandon", "Abandon"))
    )
    return (
        "<h1>Mock checkout</h1>"
        f'<p class="description">{escape(row["description"] or "Payment")}</p>'
        f'<p class="amount">{escape(format_minor_units(row["amount"], row["currency"]))}</p>'
        f"<p>This is paygate's test payment page: no money moves.</p>{buttons}"
    )


def _closed_body(row: RowMapping) -> str:
    return (
        "<h1>Checkout closed</h1>"
        f'<p>This checkout is no longer open (payment <span id="status">{escape(row["status"])}</span>).</p>'
    )


class MockCheckoutController(Controller):
    path = "/checkout/mock"
    tags = ["mock checkout"]
    include_in_schema = False
    dependencies = {
        "engine": Provide(provide_engine, sync_to_thread=False),
        "mock_events": Provide(provide_mock_events, sync_to_thread=False),
    }

    @get("/{payment_id:uuid}", operation_id="mockCheckoutPage")
    async def page(self, engine: NamedDependency[AsyncEngine], payment_id: FromPath[UUID]) -> Response[str]:
        row = await services.load_checkout(engine, payment_id)
        if not services.is_open(row):
            return _page("Checkout closed", _closed_body(row), status=409)
        return _page("Mock checkout", _checkout_body(row))

    @post("/{payment_id:uuid}", operation_id="mockCheckoutChoose", status_code=303)
    async def choose(
        self,
        engine: NamedDependency[AsyncEngine],
        mock_events: NamedDependency[services.MockEvents],
        payment_id: FromPath[UUID],
        data: Annotated[PayerChoice, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Response[str] | Redirect:
        try:
            result = await services.record_choice(engine, mock_events, payment_id, data.choice)
        except ConflictError:
            row = await services.load_checkout(engine, payment_id)
            return _page("Checkout closed", _closed_body(row), status=409)
        if result.redirect_to:
            return Redirect(result.redirect_to, status_code=303)
        return _page(
            "Checkout finished",
            f'<h1>Thank you</h1><p>Result: <span id="result">{escape(result.provider_status)}</span>. '
            "You can close this window.</p>",
        )
