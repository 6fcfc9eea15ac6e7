"""The payer in a real headless Chromium: once the whole journey (the shop page calls the gateway
through CORS, the browser follows checkout_url, the payer clicks Approve on the hosted page and lands
back on the shop's return_url, which verifies), and the hosted page on a phone."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.fixtures.browser import BROWSER_TEST, chromium
from tests.fixtures.checkout import checkout, reservation_state
from tests.gateway.conftest import PASSWORD, MakeAccount, MakeReservation
from tests.gateway.stack import Stack

pytestmark = BROWSER_TEST


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
    owner = await make_account(base_url=stack.gateway.url)
    reservation_id = await make_reservation(owner, amount=4200, currency="EUR")
    gateway = stack.gateway.url

    async with chromium() as browser:
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
        assert await page.inner_text("#amount") == "€42.00"
        await page.click("#approve")
        await page.wait_for_url(f"{shop}/paid*")
        assert await page.inner_text("#title") == "Thanks for paying"

        verified = await call(f"/payment-gateway/{payment_id}/verify", "POST", None, token)
        assert verified["status"] == 200 and verified["body"]["status"] == "succeeded"
    assert await reservation_state(db_engine, reservation_id) == ("paid", uuid.UUID(payment_id), "succeeded")
    # the CORS grant is the shop's alone
    other = await http.options(
        f"{gateway}/auth/login",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert other.headers.get("access-control-allow-origin") is None


PHONE = {
    "viewport": {"width": 375, "height": 667},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}


async def test_checkout_page_on_a_phone(
    stack: Stack,
    shop: str,
    make_account: MakeAccount,
    make_reservation: MakeReservation,
    http: httpx.AsyncClient,
) -> None:
    """The hosted page on a small touch screen: the amount in the payer's terms, everything fits, nothing
    loads from another host, no CSP violation, and Approve works (the payer lands on the shop)."""

    owner = await make_account(base_url=stack.gateway.url)
    reservation_id = await make_reservation(owner, amount=120000, currency="JPY")
    started = await checkout(
        http, stack.gateway, owner, reservation_id, return_url=f"{shop}/paid", cancel_url=f"{shop}/canceled"
    )
    assert started.status_code == 201, started.text
    checkout_url = started.json()["checkout_url"]
    page_origin = checkout_url.split("/checkout/")[0]

    async with chromium() as browser:
        context = await browser.new_context(**PHONE, locale="en-US")
        page = await context.new_page()
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        problems: list[str] = []
        page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        response = await page.goto(checkout_url)
        assert response is not None and response.status == 200
        assert await page.inner_text("#amount") == "¥120,000"
        assert await page.inner_text("#description") == "Seat 7"
        assert "expires" in await page.inner_text("#expires")
        # the stylesheet applied (a CSP refusal would leave the default look) and the page fits the screen
        assert (
            await page.eval_on_selector("#approve", "b => getComputedStyle(b).color") == "rgb(255, 255, 255)"
        )
        fits = await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        assert fits
        box = await page.locator("#approve").bounding_box()
        assert box is not None and box["height"] >= 44 and box["x"] >= 0 and box["x"] + box["width"] <= 375
        await page.tap("#approve")
        await page.wait_for_url(f"{shop}/paid*")
        assert await page.inner_text("#title") == "Thanks for paying"
        await context.close()
    page_requests = [url for url in requested if not url.startswith(shop)]
    assert page_requests and all(url.startswith(page_origin) for url in page_requests), requested
    assert problems == []
    verified = await http.post(
        f"{stack.gateway.url}/payment-gateway/{started.json()['payment_id']}/verify", headers=owner.headers
    )
    assert verified.json()["status"] == "succeeded"
