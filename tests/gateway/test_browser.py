"""Once, the whole payer journey in a real headless Chromium: the shop page calls the gateway
(through CORS), the browser follows checkout_url, the payer clicks Approve on the hosted page and
lands back on the shop's return_url, which verifies."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.fixtures.checkout import reservation_state
from tests.gateway.conftest import PASSWORD, MakeAccount, MakeReservation
from tests.gateway.stack import Stack

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's Chromium: apt-get install chromium (/usr/bin/chromium)"
    ),
]

FETCH_JSON = """async ([url, method, headers, body]) => {
    const init = {method, headers, body: body === null ? undefined : JSON.stringify(body)};
    const response = await fetch(url, init);
    return {status: response.status, body: await response.json()};
}"""


async def test_payer_journey_in_a_real_browser(
    stack: Stack,
    shop: str,
    make_account: MakeAccount,
    make_reservation: MakeReservation,
    db_engine: AsyncEngine,
    http: httpx.AsyncClient,
) -> None:
    from playwright.async_api import async_playwright

    owner = await make_account(base_url=stack.gateway.url)
    reservation_id = await make_reservation(owner, amount=4200, currency="EUR")
    gateway = stack.gateway.url

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()

            async def call(path: str, method: str = "GET", body: Any = None, token: str | None = None) -> Any:
                headers = {"Content-Type": "application/json"}
                if token:
                    headers["Authorization"] = f"Bearer {token}"
                if path.endswith("/checkout"):
                    headers["Idempotency-Key"] = str(uuid.uuid4())
                return await page.evaluate(FETCH_JSON, [gateway + path, method, headers, body])

            await page.goto(shop)
            login = await call("/auth/login", "POST", {"email": owner.email, "password": PASSWORD})
            assert login["status"] == 200, login
            token = login["body"]["access_token"]
            started = await call(
                "/payment-gateway/reservations/checkout",
                "POST",
                {
                    "reservation_id": str(reservation_id),
                    "return_url": f"{shop}/paid",
                    "cancel_url": f"{shop}/canceled",
                },
                token,
            )
            assert started["status"] == 201, started
            payment_id = started["body"]["payment_id"]

            await page.goto(started["body"]["checkout_url"])
            assert "42.00 EUR" in await page.inner_text("body")
            await page.click("#approve")
            await page.wait_for_url(f"{shop}/paid*")
            assert await page.inner_text("#title") == "Thanks for paying"

            verified = await call(f"/payment-gateway/{payment_id}/verify", "POST", None, token)
            assert verified["status"] == 200 and verified["body"]["status"] == "succeeded"
        finally:
            await browser.close()
    assert await reservation_state(db_engine, reservation_id) == ("paid", uuid.UUID(payment_id), "succeeded")
    # the CORS grant is the shop's alone
    other = await http.options(
        f"{gateway}/auth/login",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert other.headers.get("access-control-allow-origin") is None
