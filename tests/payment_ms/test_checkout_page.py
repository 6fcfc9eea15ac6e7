"""The hosted mock checkout page over real HTTP: its token, its security headers, CSRF and Origin checks,
HTML error pages, and an amount a payer can read."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from payment_ms.providers import mock_sessions
from shared.money_display import NBSP, NNBSP, format_money, negotiate_locale
from tests.fixtures.checkout_page import CSRF_FIELD, page_path, submit_choice
from tests.fixtures.services import TEST_SERVICE_TOKEN, RunningService
from tests.payment_ms.conftest import create_payment

BROWSER = {"X-Service-Token": ""}  # the payer's browser holds no service token


def _assert_page_headers(response: httpx.Response) -> None:
    headers = response.headers
    assert headers["content-type"].startswith("text/html"), headers
    assert headers["x-frame-options"] == "DENY"
    csp = headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
    assert "script-src" not in csp and "unsafe-inline" not in csp  # default-src 'none': no script at all
    assert headers["cache-control"] == "no-store"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"  # nothing to other sites; see the controller


async def _open_page(api: httpx.AsyncClient, payment: dict[str, Any]) -> tuple[str, str]:
    path = page_path(payment["checkout_url"])
    page = await api.get(path, headers=BROWSER)
    assert page.status_code == 200, page.text
    match = CSRF_FIELD.search(page.text)
    assert match is not None
    return path, match.group(1)


async def _provider_status(db_engine: AsyncEngine, payment_id: str) -> str:
    async with db_engine.connect() as conn:
        query = text("SELECT provider_status FROM payments WHERE id = :id")
        return str((await conn.execute(query, {"id": payment_id})).scalar_one())


async def test_the_link_carries_a_session_token_not_the_payment_id(
    api: httpx.AsyncClient, db_engine: AsyncEngine
) -> None:
    payment = await create_payment(api)
    token = page_path(payment["checkout_url"]).rsplit("/", 1)[-1]
    assert payment["id"] not in payment["checkout_url"] and len(token) >= 43
    assert payment["id"].replace("-", "") not in token
    by_id = await api.get(f"/checkout/mock/{payment['id']}", headers=BROWSER)
    assert by_id.status_code == 404 and "not valid" in by_id.text
    _assert_page_headers(by_id)
    posted = await api.post(f"/checkout/mock/{payment['id']}", data={"choice": "approve"}, headers=BROWSER)
    assert posted.status_code == 404 and posted.headers["content-type"].startswith("text/html")
    # a token altered in one character is no token
    altered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    assert (await api.get(f"/checkout/mock/{altered}", headers=BROWSER)).status_code == 404
    assert await _provider_status(db_engine, payment["id"]) == "open"


async def test_page_headers_and_a_readable_amount(api: httpx.AsyncClient) -> None:
    payment = await create_payment(api, amount=120000, currency="JPY", description="Hotel night, 2 guests")
    path = page_path(payment["checkout_url"])
    page = await api.get(path, headers=BROWSER)
    assert page.status_code == 200
    _assert_page_headers(page)
    assert "form-action 'self' http://127.0.0.1:5173" in page.headers["content-security-policy"]
    assert 'id="amount">¥120,000<' in page.text
    assert "Hotel night, 2 guests" in page.text and 'id="merchant">paygate demo shop<' in page.text
    assert 'name="viewport" content="width=device-width' in page.text
    assert (
        "<script" not in page.text and "<style" not in page.text and "http" not in page.text.split("<body")[1]
    )
    assert 'id="expires">This checkout expires <time datetime="' in page.text
    german = await api.get(path, headers={**BROWSER, "Accept-Language": "de-DE,de;q=0.9,en;q=0.5"})
    assert f'id="amount">120.000{NBSP}¥<' in german.text
    euros = await create_payment(api, amount=2500, currency="EUR")
    assert 'id="amount">€25.00<' in (await api.get(page_path(euros["checkout_url"]), headers=BROWSER)).text
    assert (await api.get("/checkout/mock/assets/../payments", headers=BROWSER)).status_code == 404
    sheet = await api.get("/checkout/mock/assets/checkout.css", headers=BROWSER)
    assert sheet.status_code == 200 and sheet.headers["content-type"].startswith("text/css")
    assert sheet.headers["x-content-type-options"] == "nosniff" and "max-width" in sheet.text


async def test_the_form_needs_its_csrf_token(api: httpx.AsyncClient, db_engine: AsyncEngine) -> None:
    payment = await create_payment(api)
    other = await create_payment(api)
    path, csrf = await _open_page(api, payment)
    _, other_csrf = await _open_page(api, other)
    for data in (
        {"choice": "approve"},
        {"choice": "approve", "csrf_token": ""},
        {"choice": "approve", "csrf_token": other_csrf},
    ):
        refused = await api.post(path, data=data, headers=BROWSER)
        assert refused.status_code == 403, (data, refused.text)
        _assert_page_headers(refused)
    assert await _provider_status(db_engine, payment["id"]) == "open"
    bad_choice = await api.post(path, data={"choice": "pay-twice", "csrf_token": csrf}, headers=BROWSER)
    assert bad_choice.status_code == 400 and bad_choice.headers["content-type"].startswith("text/html")
    accepted = await api.post(path, data={"choice": "approve", "csrf_token": csrf}, headers=BROWSER)
    assert accepted.status_code == 303 and accepted.headers["location"] == "http://127.0.0.1:5173/return"
    assert accepted.headers["cache-control"] == "no-store"
    assert await _provider_status(db_engine, payment["id"]) == "approved"


async def test_a_post_from_another_origin_is_refused(
    api: httpx.AsyncClient, payment_ms: RunningService, db_engine: AsyncEngine
) -> None:
    payment = await create_payment(api)
    path, csrf = await _open_page(api, payment)
    data = {"choice": "approve", "csrf_token": csrf}
    for headers in (
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Origin": payment_ms.url.replace("127.0.0.1", "localhost")},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site", "Origin": payment_ms.url},
    ):
        refused = await api.post(path, data=data, headers={**BROWSER, **headers})
        assert refused.status_code == 403, (headers, refused.text)
        assert refused.headers["content-type"].startswith("text/html")
    assert await _provider_status(db_engine, payment["id"]) == "open"
    same = {"Origin": payment_ms.url, "Sec-Fetch-Site": "same-origin"}
    assert (await api.post(path, data=data, headers={**BROWSER, **same})).status_code == 303


async def test_closed_unknown_and_expired_links_are_html_pages(
    api: httpx.AsyncClient, db_engine: AsyncEngine
) -> None:
    payment = await create_payment(api)
    assert (await submit_choice(api, "", payment["checkout_url"], "decline", **BROWSER)).status_code == 303
    await api.post(f"/api/payments/{payment['id']}/verify")
    closed = await api.get(page_path(payment["checkout_url"]), headers=BROWSER)
    assert closed.status_code == 409 and 'id="status">failed<' in closed.text
    _assert_page_headers(closed)
    for bad in ("nothing-here", "x" * 75, "%00"):
        unknown = await api.get(f"/checkout/mock/{bad}", headers=BROWSER)
        assert unknown.status_code == 404 and "not valid" in unknown.text, bad
        _assert_page_headers(unknown)

    # a link whose time is up: the same payment with a token that expired a minute ago
    expiring = await create_payment(api)
    async with db_engine.begin() as conn:
        await conn.execute(
            text("UPDATE payments SET checkout_url = :url WHERE id = :id"),
            {"url": expired_url(expiring), "id": expiring["id"]},
        )
    expired = await api.get(page_path(expired_url(expiring)), headers=BROWSER)
    assert expired.status_code == 410 and "expired" in expired.text
    _assert_page_headers(expired)
    verified = await api.post(f"/api/payments/{expiring['id']}/verify")
    assert verified.json()["status"] == "canceled" and "expired" in verified.json()["failure_reason"]


def expired_url(payment: dict[str, Any]) -> str:
    """A link for ``payment`` minted under payment_ms's key (the test service token), already expired."""
    expires_at = datetime.now(UTC) - timedelta(minutes=1)
    token = mock_sessions.issue(uuid.UUID(payment["id"]), expires_at, secret=TEST_SERVICE_TOKEN)
    return payment["checkout_url"].rsplit("/", 1)[0] + "/" + token


@pytest.mark.parametrize(
    ("amount", "currency", "locale", "shown"),
    [
        (120000, "JPY", "en", "¥120,000"),
        (120000, "JPY", "ja", "￥120,000"),
        (2500, "EUR", "en", "€25.00"),
        (2500, "EUR", "de", f"25,00{NBSP}€"),
        (123456789, "EUR", "fr", f"1{NNBSP}234{NNBSP}567,89{NBSP}€"),
        (1999, "USD", "en", "$19.99"),
        (1500, "KWD", "en", f"KWD{NBSP}1.500"),
        (5, "CHF", "nl", f"CHF{NBSP}0,05"),
        (100, "BRL", "pt", f"R${NBSP}1,00"),
    ],
)
def test_money_is_formatted_for_its_currency_and_locale(
    amount: int, currency: str, locale: str, shown: str
) -> None:
    assert format_money(amount, currency, locale) == shown


@pytest.mark.parametrize(
    ("header", "locale"),
    [
        (None, "en"),
        ("", "en"),
        ("de-CH, fr;q=0.9", "de"),
        ("xx, fr;q=0.5, ja;q=0.8", "ja"),
        ("ja;q=0, fr", "fr"),
        ("*;q=1, it;q=0.1", "it"),
        ("de;q=abc, nl", "nl"),
        ("zz", "en"),
    ],
)
def test_accept_language_picks_the_locale(header: str | None, locale: str) -> None:
    assert negotiate_locale(header) == locale
