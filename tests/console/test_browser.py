"""The console and the portal in a real headless Chromium (Debian's), against the real gateway,
payment_ms and a dispatcher delivering to a real receiver on 127.0.0.1."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine
from standardwebhooks.webhooks import Webhook

from tests.dispatcher.conftest import Receiver, add_event, add_partner
from tests.fixtures.browser import BROWSER_TEST, chromium
from tests.fixtures.checkout import PASSWORD, Account, Checkouts, MakeAccount
from tests.fixtures.services import RunningService
from tests.fixtures.waiting import eventually

pytestmark = BROWSER_TEST


async def until(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 20.0) -> None:
    await eventually(check, timeout=timeout, what=what, interval=0.1)


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    async with chromium() as launched:
        yield launched


async def new_page(browser: Any, gateway: RunningService, *, phone: bool = False) -> Any:
    """A page that may load nothing but the gateway (a request to any other host fails the test)."""
    options = {"viewport": {"width": 390, "height": 844}, "is_mobile": True} if phone else {}
    context = await browser.new_context(base_url=gateway.url, **options)
    foreign: list[str] = []
    context.on("request", lambda r: None if r.url.startswith(gateway.url) else foreign.append(r.url))
    page = await context.new_page()
    page.foreign_requests = foreign
    return page


async def sign_in(page: Any, admin: Account) -> None:
    await page.goto("/console/payments")  # not signed in: sent to the sign-in page, then back
    await page.get_by_label("Email").fill(admin.email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url("**/console/payments")


async def test_an_operator_refunds_part_of_a_payment_and_replays_a_failing_delivery(
    browser: Any,
    gateway: RunningService,
    checkouts: Checkouts,
    db_engine: AsyncEngine,
    receiver: Receiver,
    dispatch: Callable[..., Any],
    http: httpx.AsyncClient,
) -> None:
    admin = await checkouts.account("admin")
    payer, reservation = await checkouts.payer(amount=4200, currency="EUR")
    await add_partner(db_engine, receiver.url("hotel"), ("payment.succeeded", "payment.refunded"))
    down = {"failing": True}

    async def flaky(_: Any) -> web.StreamResponse:
        return web.Response(status=500 if down["failing"] else 200, text="down" if down["failing"] else "ok")

    receiver.behaviours["flaky"] = flaky
    await add_partner(db_engine, receiver.url("flaky"), ("payment.succeeded",))

    async with dispatch():
        started = await checkouts.start(payer, reservation)
        assert started.status_code == 201, started.text
        payment_id = started.json()["payment_id"]
        await checkouts.choose(started.json()["checkout_url"], "approve")
        verified = await http.post(
            f"{gateway.url}/payment-gateway/{payment_id}/verify", headers=payer.headers
        )
        assert verified.json()["status"] == "succeeded", verified.text
        await receiver.wait_count("hotel", 1, timeout=30)

        page = await new_page(browser, gateway)
        await sign_in(page, admin)
        # find the payment by its reservation and open it
        await page.get_by_label("Payment, reservation or user id").fill(str(reservation))
        await page.get_by_role("button", name="Search").click()
        found = page.locator(f"#payments a[href='/console/payments/{payment_id}']")
        assert await found.count() == 1, await page.locator("main").inner_text()
        await found.click()
        await page.wait_for_url(f"**/console/payments/{payment_id}")
        timeline = page.locator("#timeline")
        await timeline.get_by_text("payment.succeeded").wait_for()
        assert await timeline.get_by_text("payment.created").count() == 1

        # refund 10.00 of 42.00, through the confirmation page
        await page.get_by_role("link", name="Refund…").click()
        await page.get_by_label("Amount in EUR").fill("10.00")
        await page.get_by_role("button", name="Refund").click()
        await page.wait_for_url(f"**/console/payments/{payment_id}?done=refund")
        assert "partially refunded" in await page.locator("#payment-status").inner_text()
        assert "10.00 EUR" in await page.locator("#refunded").inner_text()
        # the timeline says from what: the payer's checkout, the operator's refund
        created = page.locator("#timeline li", has_text="payment.created")
        assert "from the payer" in await created.inner_text()
        refunded = page.locator("#timeline li", has_text="payment.refunded")
        assert "from an operator" in await refunded.inner_text()

        async def refunded_delivered() -> bool:
            await page.reload()
            delivery = page.locator("section.delivery", has_text="payment.refunded")
            return await delivery.count() == 1 and await delivery.locator(".badge.succeeded").count() == 1

        await until(refunded_delivered, "payment.refunded shown as delivered on the payment's page")
        refunds = [
            json.loads(r.body)
            for r in receiver.at("hotel")
            if json.loads(r.body)["type"] == "payment.refunded"
        ]
        assert len(refunds) == 1 and refunds[0]["data"]["refunded_amount"] == 1000

        # the flaky partner's delivery failed for good; it comes back and the operator replays it
        await until(lambda: _failed_listed(page), "the flaky partner's delivery listed as failed", timeout=30)
        await page.locator("table a[href^='/console/deliveries/']").first.click()
        assert "down" in await page.locator("table").last.inner_text()  # the partner's answer
        attempts_before = len(receiver.at("flaky"))
        down["failing"] = False
        await page.get_by_role("button", name="Replay now").click()

        async def replayed() -> bool:
            await page.reload()
            return "succeeded" in await page.locator("#delivery-status").inner_text()

        await until(replayed, "the replayed delivery succeeded")
        assert len(receiver.at("flaky")) == attempts_before + 1
        assert page.foreign_requests == []


async def _failed_listed(page: Any) -> bool:
    await page.goto("/console/deliveries?status=failed")
    return await page.locator("table a[href^='/console/deliveries/']").count() >= 1


async def test_a_partner_uses_its_portal_link_on_a_phone(
    browser: Any,
    gateway: RunningService,
    make_account: MakeAccount,
    db_engine: AsyncEngine,
    receiver: Receiver,
    dispatch: Callable[..., Any],
    http: httpx.AsyncClient,
) -> None:
    admin = await make_account("admin")
    partner_id, _ = await add_partner(db_engine, receiver.url("portal"), ("payment.succeeded",))
    async with dispatch():
        await add_event(db_engine, "payment.succeeded")
        await receiver.wait_count("portal", 1, timeout=30)
        issued = await http.post(
            f"{gateway.url}/admin/partners/{partner_id}/portal-links", headers=admin.headers
        )
        link = "/" + issued.json()["url"].split("/", 3)[3]  # GATEWAY_PUBLIC_URL is not this test's port

        page = await new_page(browser, gateway, phone=True)
        await page.goto(link)
        await page.get_by_role("button", name="Open the portal").click()
        await page.wait_for_url("**/portal")
        # its deliveries, one with its attempt
        await page.get_by_role("link", name="Deliveries").click()
        await page.locator("table a[href^='/portal/deliveries/']").first.click()
        assert "succeeded" in await page.locator("#delivery-status").inner_text()
        assert "HTTP 200" in await page.locator("table").last.inner_text()
        # rotate the secret: shown once
        await page.get_by_role("link", name="Endpoint").click()
        await page.get_by_role("button", name="Rotate signing secret").click()
        secret = (await page.locator("#secret").inner_text()).strip()
        assert secret.startswith("whsec_")
        # a test event, signed with the new secret, and the attempt read on the page
        before = len(receiver.at("portal"))
        await page.get_by_role("button", name="Send test").click()
        result = page.locator("#test-result")
        assert "delivered" in await result.inner_text() and "HTTP 200" in await result.inner_text()
        sent = receiver.at("portal")[before]
        assert sent.msg_id.startswith("test_")
        Webhook(secret).verify(sent.body, sent.headers)  # the new secret verifies it
        # ... and reads the new delivery: in its list, marked test, with its attempt; not to be sent again
        await page.locator("#test-delivery").click()
        await page.wait_for_url("**/portal/deliveries/*")
        assert "succeeded" in await page.locator("#delivery-status").inner_text()
        assert sent.msg_id in await page.locator("main").inner_text()
        assert "HTTP 200" in await page.locator("table").last.inner_text()
        assert await page.locator("#replay").count() == 0
        await page.get_by_role("link", name="Deliveries").click()
        newest = page.locator("table tbody tr").first
        assert "test" in await newest.locator(".badge.test").inner_text()
        # the link was spent: opening it again is refused
        other = await new_page(browser, gateway)
        await other.goto(link)
        await other.get_by_role("button", name="Open the portal").click()
        assert "already used" in await other.locator("main").inner_text()
        # the phone layout: nothing wider than the screen
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, width
        assert page.foreign_requests == [] and other.foreign_requests == []
    assert uuid.UUID(str(partner_id))
