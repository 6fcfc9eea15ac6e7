"""The partner portal over plain HTTP: links open once and can be revoked, a session sees its own
partner only (every portal URL and the feed tried with another partner's ids), the pull feed."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.console.conftest import csrf_of
from tests.dispatcher.conftest import add_event, add_partner, fetch
from tests.fixtures.checkout import Account, MakeAccount
from tests.fixtures.services import RunningService
from tests.fixtures.waiting import eventually


def local_path(url: str) -> str:
    return "/" + url.split("/", 3)[3]


@dataclass
class Portals:
    """Two partners (``mine`` takes more event types than ``theirs``) and an admin who issues their
    portal links, which a browser opens, through the real gateway."""

    http: httpx.AsyncClient
    gateway: RunningService
    admin: Account
    mine: uuid.UUID
    theirs: uuid.UUID

    async def link(self, partner_id: uuid.UUID) -> dict[str, Any]:
        url = f"{self.gateway.url}/admin/partners/{partner_id}/portal-links"
        answer = await self.http.post(url, headers=self.admin.headers)
        assert answer.status_code == 201, answer.text
        link: dict[str, Any] = answer.json()
        return link

    async def open(self, link_url: str) -> httpx.AsyncClient:
        """A new browser that opened ``link_url``: signed in to its partner's portal."""
        client = httpx.AsyncClient(base_url=self.gateway.url, timeout=10.0)
        form = await client.get(local_path(link_url))
        assert form.status_code == 200, form.text
        answer = await client.post(local_path(link_url), data={"csrf_token": csrf_of(form.text)})
        assert answer.status_code == 303, answer.text
        assert answer.headers["location"] == "/portal"
        return client


@pytest.fixture
async def portals(
    http: httpx.AsyncClient,
    gateway: RunningService,
    make_account: MakeAccount,
    db_engine: AsyncEngine,
    receiver: Any,
) -> Portals:
    mine, _ = await add_partner(db_engine, receiver.url("mine"), ("payment.succeeded", "payment.refunded"))
    theirs, _ = await add_partner(db_engine, receiver.url("theirs"), ("payment.succeeded",))
    return Portals(http, gateway, await make_account("admin"), mine, theirs)


async def test_a_link_opens_once_and_a_revoked_link_ends_its_session(
    gateway: RunningService, http: httpx.AsyncClient, portals: Portals
) -> None:
    admin, mine = portals.admin, portals.mine
    link = await portals.link(mine)
    portal = await portals.open(link["url"])
    try:
        home = await portal.get("/portal")
        assert home.status_code == 200 and "Your endpoint" in home.text
        assert home.headers["x-frame-options"] == "DENY" and home.headers["cache-control"] == "no-store"
        set_cookie = "; ".join(v for k, v in home.request.headers.items() if k == "cookie")
        assert "paygate_portal=" in set_cookie

        # used: refused, in a fresh browser too
        async with httpx.AsyncClient(base_url=gateway.url, timeout=10.0) as other:
            form = await other.get(local_path(link["url"]))
            again = await other.post(local_path(link["url"]), data={"csrf_token": csrf_of(form.text)})
            assert again.status_code == 401 and "already used" in again.text
            assert "paygate_portal" not in again.headers.get("set-cookie", "")

        revoked = await http.post(
            f"{gateway.url}/admin/partners/{mine}/portal-links/{link['id']}/revoke", headers=admin.headers
        )
        assert revoked.status_code == 200 and revoked.json()["revoked_at"]
        after = await portal.get("/portal")
        assert after.status_code == 401 and "session has ended" in after.text
    finally:
        await portal.aclose()

    # a link revoked before it is opened never opens
    unused = await portals.link(mine)
    await http.post(
        f"{gateway.url}/admin/partners/{mine}/portal-links/{unused['id']}/revoke", headers=admin.headers
    )
    async with httpx.AsyncClient(base_url=gateway.url, timeout=10.0) as browser:
        form = await browser.get(local_path(unused["url"]))
        refused = await browser.post(local_path(unused["url"]), data={"csrf_token": csrf_of(form.text)})
        assert refused.status_code == 401
        # and a made-up token, and a form without its token
        assert (
            await browser.post("/portal/enter/pgl_madeup", data={"csrf_token": csrf_of(form.text)})
        ).status_code == 401
        assert (await browser.post(local_path(unused["url"]), data={})).status_code == 403


async def test_a_partner_never_sees_another_partners_data(
    gateway: RunningService, http: httpx.AsyncClient, db_engine: AsyncEngine, portals: Portals
) -> None:
    mine, theirs = portals.mine, portals.theirs
    _, event_id = await add_event(db_engine, "payment.succeeded")
    async with db_engine.begin() as conn:  # one delivery each, as the dispatcher's fan-out writes them
        for partner in (mine, theirs):
            await conn.execute(
                text(
                    "INSERT INTO webhook_deliveries (event_id, partner_id, url, status, attempt_count)"
                    " VALUES (:e, :p, 'http://127.0.0.1:9/x', 'failed', 1)"
                ),
                {"e": event_id, "p": partner},
            )
    rows = await fetch(db_engine, "SELECT id, partner_id FROM webhook_deliveries")
    my_delivery = next(r["id"] for r in rows if r["partner_id"] == mine)
    their_delivery = next(r["id"] for r in rows if r["partner_id"] == theirs)
    their_name = (await fetch(db_engine, "SELECT name FROM partners WHERE id = :id", id=theirs))[0]["name"]

    link = await portals.link(mine)
    portal = await portals.open(link["url"])
    try:
        listing = await portal.get("/portal/deliveries")
        assert str(my_delivery)[:12] in listing.text and str(their_delivery)[:12] not in listing.text
        assert (await portal.get(f"/portal/deliveries/{my_delivery}")).status_code == 200
        page = (await portal.get("/portal")).text
        csrf = csrf_of(page)
        assert their_name not in page
        # every portal URL that takes an id, with the other partner's
        assert (await portal.get(f"/portal/deliveries/{their_delivery}")).status_code == 404
        replay = await portal.post(f"/portal/deliveries/{their_delivery}/replay", data={"csrf_token": csrf})
        assert replay.status_code == 404
        status = await fetch(
            db_engine, "SELECT status FROM webhook_deliveries WHERE id = :id", id=their_delivery
        )
        assert status[0]["status"] == "failed"  # not replayed
        # ids in query strings and forms are not read: the session's partner is the only one
        for path in (f"/portal?partner_id={theirs}", f"/portal/deliveries?partner_id={theirs}"):
            answer = await portal.get(path)
            assert answer.status_code == 200 and str(their_delivery)[:12] not in answer.text
        # a token another partner issued is not this partner's to revoke
        other_link = await portals.link(theirs)
        other = await portals.open(other_link["url"])
        try:
            issued = await other.post(
                "/portal/tokens",
                data={"csrf_token": csrf_of((await other.get("/portal/tokens")).text), "name": "theirs"},
            )
            assert issued.status_code == 200
        finally:
            await other.aclose()
        their_token = (
            await fetch(db_engine, "SELECT id FROM partner_api_tokens WHERE partner_id = :p", p=theirs)
        )[0]["id"]
        revoke = await portal.post(f"/portal/tokens/{their_token}/revoke", data={"csrf_token": csrf})
        assert revoke.status_code == 404
        assert (
            await fetch(db_engine, "SELECT revoked_at FROM partner_api_tokens WHERE id = :id", id=their_token)
        )[0]["revoked_at"] is None
        # an admin API of the portal is not open to a portal session
        assert (await portal.post(f"/admin/partners/{theirs}/portal-links")).status_code == 401
    finally:
        await portal.aclose()


async def test_the_pull_feed_returns_the_partners_events_in_order_after_a_cursor(
    gateway: RunningService, http: httpx.AsyncClient, db_engine: AsyncEngine, portals: Portals
) -> None:
    mine, theirs = portals.mine, portals.theirs
    payment_id, first = await add_event(db_engine, "payment.succeeded")
    _, not_subscribed = await add_event(db_engine, "payment.created", payment_id)
    _, second = await add_event(db_engine, "payment.refunded", payment_id)
    _, third = await add_event(db_engine, "payment.succeeded")

    link = await portals.link(mine)
    portal = await portals.open(link["url"])
    try:
        tokens = await portal.get("/portal/tokens")
        issued = await portal.post(
            "/portal/tokens", data={"csrf_token": csrf_of(tokens.text), "name": "catch-up"}
        )
        token = issued.text.split('id="new-token">', 1)[1].split("<", 1)[0]
        assert token.startswith("pgp_")
    finally:
        await portal.aclose()
    headers = {"Authorization": f"Bearer {token}"}

    async def page(after: str | None = None, limit: int = 2) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit} | ({"after": after} if after else {})
        answer = await http.get(f"{gateway.url}/partner/v1/events", params=params, headers=headers)
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    async def settled() -> dict[str, Any] | None:  # the newest events are held back for a moment
        body = await page(limit=10)
        return body if len(body["items"]) == 3 else None

    everything = await eventually(settled, timeout=15, what="the three events in the feed")
    assert [e["id"] for e in everything["items"]] == [str(first), str(second), str(third)]
    assert str(not_subscribed) not in {e["id"] for e in everything["items"]}

    one = await page(limit=2)
    assert [e["id"] for e in one["items"]] == [str(first), str(second)] and one["has_more"]
    two = await page(one["next_cursor"], limit=2)
    assert [e["id"] for e in two["items"]] == [str(third)] and not two["has_more"]
    caught_up = await page(two["next_cursor"])
    assert caught_up["items"] == [] and caught_up["next_cursor"] == two["next_cursor"]
    _, fourth = await add_event(db_engine, "payment.succeeded")

    async def the_new_one() -> list[str]:
        return [e["id"] for e in (await page(two["next_cursor"]))["items"]]

    assert await eventually(the_new_one, timeout=15) == [str(fourth)]

    # no token, a wrong one, a revoked one: 401 problem+json; a bad cursor: 400
    assert (await http.get(f"{gateway.url}/partner/v1/events")).status_code == 401
    wrong = await http.get(f"{gateway.url}/partner/v1/events", headers={"Authorization": "Bearer pgp_nope"})
    assert wrong.status_code == 401 and wrong.headers["content-type"].startswith("application/problem+json")
    bad = await http.get(f"{gateway.url}/partner/v1/events", params={"after": "!!"}, headers=headers)
    assert bad.status_code == 400
    async with db_engine.begin() as conn:
        await conn.execute(text("UPDATE partner_api_tokens SET revoked_at = now()"))
    assert (await http.get(f"{gateway.url}/partner/v1/events", headers=headers)).status_code == 401
    assert theirs  # the other partner's subscription is not this token's


async def test_portal_forms_need_their_csrf_token_and_portal_sessions_expire(
    gateway: RunningService, http: httpx.AsyncClient, db_engine: AsyncEngine, portals: Portals
) -> None:
    mine = portals.mine
    secret = "SELECT secret FROM partners WHERE id = :id"
    before = (await fetch(db_engine, secret, id=mine))[0]["secret"]
    portal = await portals.open((await portals.link(mine))["url"])
    try:
        for data in ({}, {"csrf_token": ""}, {"csrf_token": "wrong-token"}):
            for path in ("/portal/rotate", "/portal/pause", "/portal/test"):
                refused = await portal.post(path, data=data)
                assert refused.status_code == 403, (path, data, refused.status_code)
        assert (await fetch(db_engine, secret, id=mine))[0]["secret"] == before, "nothing rotated"
        assert await fetch(db_engine, "SELECT id FROM webhook_deliveries") == [], "nothing sent"
        assert (await fetch(db_engine, "SELECT enabled FROM partners WHERE id = :id", id=mine))[0]["enabled"]
        async with db_engine.begin() as conn:  # the server's clock decides, whatever the cookie says
            await conn.execute(
                text(
                    "UPDATE web_sessions SET expires_at = now() - interval '1 second' WHERE partner_id = :p"
                ),
                {"p": mine},
            )
        expired = await portal.get("/portal/deliveries")
        assert expired.status_code == 401 and "session has ended" in expired.text
    finally:
        await portal.aclose()
