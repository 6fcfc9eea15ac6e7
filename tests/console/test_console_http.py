"""The console over plain HTTP: who may see it, CSRF, session expiry, the security headers, and the
partner pages' writes (each one read back from the registry)."""

from __future__ import annotations

import re
import uuid

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.console.conftest import SignIn, csrf_of, post_login
from tests.dispatcher.conftest import fetch
from tests.fixtures.checkout import PASSWORD, MakeAccount
from tests.fixtures.services import RunningService

PAGES = ["/console", "/console/payments", "/console/partners", "/console/deliveries", "/console/partners/new"]


def id_pages(some_id: uuid.UUID) -> list[str]:
    return [
        f"/console/payments/{some_id}",
        f"/console/payments/{some_id}/refund",
        f"/console/partners/{some_id}",
        f"/console/deliveries/{some_id}",
    ]


POSTS = [
    "/console/partners",
    "/console/partners/{id}/rotate",
    "/console/partners/{id}/disable",
    "/console/partners/{id}/portal-links",
    "/console/payments/{id}/refund",
    "/console/deliveries/{id}/replay",
]


async def test_an_admin_signs_in_and_every_page_has_the_checkout_pages_headers(
    gateway: RunningService, make_account: MakeAccount, sign_in: SignIn
) -> None:
    admin = await make_account("admin")
    async with httpx.AsyncClient(base_url=gateway.url, timeout=10.0) as browser:
        signed = await post_login(browser, admin, next="//evil/x")
        assert signed.status_code == 303 and signed.headers["location"] == "/console"  # never another host
        cookie = signed.headers["set-cookie"]
        assert (
            "paygate_console=" in cookie
            and "HttpOnly" in cookie
            and "SameSite=lax" in cookie.replace("Lax", "lax")
        )
        assert "Path=/console" in cookie
        assert "Secure" not in cookie  # dev/test over plain http only; Secure everywhere else
        for path in PAGES:
            answer = await browser.get(path)
            assert answer.status_code == 200, (path, answer.text)
            assert answer.headers["content-type"].startswith("text/html")
            csp = answer.headers["content-security-policy"]
            assert (
                "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
            )
            assert answer.headers["x-frame-options"] == "DENY"
            assert answer.headers["x-content-type-options"] == "nosniff"
            assert answer.headers["cache-control"] == "no-store"
            assert answer.headers["referrer-policy"] == "no-referrer"
            assert "<script" not in answer.text and "http://" not in answer.text.split("</head>")[0]
        missing = await browser.get(f"/console/payments/{uuid.uuid4()}")
        assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
        assert missing.headers["x-frame-options"] == "DENY"
        css = await browser.get("/static/paygate.css")
        assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


async def test_no_console_page_answers_to_a_user_who_is_not_an_admin(
    gateway: RunningService, make_account: MakeAccount, db_engine: AsyncEngine, sign_in: SignIn
) -> None:
    user = await make_account("user")
    async with httpx.AsyncClient(base_url=gateway.url, timeout=10.0) as browser:
        refused = await post_login(browser, user)
        assert refused.status_code == 403 and "not an operator" in refused.text
        assert "paygate_console" not in refused.headers.get("set-cookie", "")
        # the user's API token, a made-up cookie, nothing: every page sends to the sign-in page
        some_id = uuid.uuid4()
        for headers in (user.headers, {"Cookie": "paygate_console=made-up"}, {}):
            for path in PAGES + id_pages(some_id):
                answer = await browser.get(path, headers=headers)
                assert answer.status_code == 303, (path, answer.status_code)
                assert answer.headers["location"].startswith("/console/login")
            for path in POSTS:
                answer = await browser.post(
                    path.format(id=some_id), headers=headers, data={"csrf_token": "x"}
                )
                assert answer.status_code == 303 and answer.headers["location"].startswith("/console/login")
    # an admin who loses the role (or is disabled) loses the console at the next page
    admin = await make_account("admin")
    client = await sign_in(admin)
    assert (await client.get("/console")).status_code == 200
    async with db_engine.begin() as conn:
        await conn.execute(text("UPDATE users SET role = 'user' WHERE id = :id"), {"id": admin.id})
    assert (await client.get("/console")).status_code == 303


async def test_csrf_is_refused_without_its_token_and_nothing_changes(
    gateway: RunningService, make_account: MakeAccount, db_engine: AsyncEngine, sign_in: SignIn
) -> None:
    admin = await make_account("admin")
    client = await sign_in(admin)
    body = {"name": "csrf-victim", "url": "http://127.0.0.1:9/hook", "event_types": "payment.succeeded"}
    for token in (None, "", "wrong-token"):
        data = body | ({"csrf_token": token} if token is not None else {})
        answer = await client.post("/console/partners", data=data)
        assert answer.status_code == 403, answer.text
        assert "form expired" in answer.text
    assert await fetch(db_engine, "SELECT id FROM partners WHERE name = 'csrf-victim'") == []
    # the token of another session does not do either
    other = await sign_in(await make_account("admin"))
    foreign = csrf_of((await other.get("/console/partners/new")).text)
    assert (await client.post("/console/partners", data=body | {"csrf_token": foreign})).status_code == 403
    # the sign-in form has its own (double-submit) token
    async with httpx.AsyncClient(base_url=gateway.url, timeout=10.0) as browser:
        no_token = await browser.post("/console/login", data={"email": admin.email, "password": PASSWORD})
        assert no_token.status_code == 403 and "paygate_console" not in no_token.headers.get("set-cookie", "")
    # and with its token it works
    own = csrf_of((await client.get("/console/partners/new")).text)
    created = await client.post("/console/partners", data=body | {"csrf_token": own})
    assert created.status_code == 200 and "whsec_" in created.text


async def test_sessions_expire_and_sign_out_ends_them(
    gateway: RunningService, make_account: MakeAccount, db_engine: AsyncEngine, sign_in: SignIn
) -> None:
    admin = await make_account("admin")
    client = await sign_in(admin)
    assert (await client.get("/console/payments")).status_code == 200
    async with db_engine.begin() as conn:  # the server's clock decides, whatever the cookie says
        await conn.execute(
            text("UPDATE web_sessions SET expires_at = now() - interval '1 second' WHERE user_id = :id"),
            {"id": admin.id},
        )
    expired = await client.get("/console/payments")
    assert (
        expired.status_code == 303 and expired.headers["location"] == "/console/login?next=/console/payments"
    )

    again = await sign_in(admin)
    token = again.cookies["paygate_console"]
    page = await again.get("/console")
    assert (await again.post("/console/logout", data={"csrf_token": csrf_of(page.text)})).status_code == 303
    async with httpx.AsyncClient(
        base_url=gateway.url, timeout=10.0, cookies={"paygate_console": token}
    ) as replayed:
        assert (await replayed.get("/console")).status_code == 303  # the signed-out token is dead server-side


async def test_partner_pages_create_edit_rotate_disable_enable_and_issue_a_portal_link(
    make_account: MakeAccount, db_engine: AsyncEngine, sign_in: SignIn
) -> None:
    client = await sign_in(await make_account("admin"))
    csrf = csrf_of((await client.get("/console/partners/new")).text)
    form = {"csrf_token": csrf, "name": "hotel"}
    private = {**form, "url": "https://10.0.0.1/hook", "event_types": "payment.succeeded"}
    refused = await client.post("/console/partners", data=private)
    assert refused.status_code == 422 and "hotel" in refused.text  # the admin API's URL rules, the form kept
    local = {
        **form,
        "url": "http://127.0.0.1:9/hook",
        "event_types": ["payment.succeeded", "payment.refunded"],
    }
    created = await client.post("/console/partners", data=local)
    assert created.status_code == 200
    secret = re.search(r'id="secret">(whsec_[^<]+)<', created.text)
    assert secret
    (row,) = await fetch(db_engine, "SELECT id, secret, event_types FROM partners WHERE name = 'hotel'")
    assert row["secret"] == secret.group(1) and row["event_types"] == [
        "payment.succeeded",
        "payment.refunded",
    ]
    partner = row["id"]

    detail = await client.get(f"/console/partners/{partner}")
    assert detail.status_code == 200 and "no attempts" in detail.text and secret.group(1) not in detail.text
    listing = await client.get("/console/partners")
    assert "hotel" in listing.text and secret.group(1) not in listing.text

    saved = await client.post(
        f"/console/partners/{partner}/event-types", data={"csrf_token": csrf, "event_types": "payment.failed"}
    )
    assert saved.status_code == 303
    rotated = await client.post(f"/console/partners/{partner}/rotate", data={"csrf_token": csrf})
    new_secret = re.search(r'id="secret">(whsec_[^<]+)<', rotated.text)
    assert new_secret and new_secret.group(1) != secret.group(1)
    disabled = await client.post(
        f"/console/partners/{partner}/disable", data={"csrf_token": csrf, "reason": "maintenance"}
    )
    assert disabled.status_code == 303
    (row,) = await fetch(
        db_engine,
        "SELECT secret, event_types, enabled, disabled_reason FROM partners WHERE id = :id",
        id=partner,
    )
    assert row["secret"] == new_secret.group(1) and row["event_types"] == ["payment.failed"]
    assert (row["enabled"], row["disabled_reason"]) == (False, "maintenance")
    assert "maintenance" in (await client.get("/console/partners")).text
    await client.post(f"/console/partners/{partner}/enable", data={"csrf_token": csrf})
    (row,) = await fetch(db_engine, "SELECT enabled FROM partners WHERE id = :id", id=partner)
    assert row["enabled"] is True

    link = await client.post(f"/console/partners/{partner}/portal-links", data={"csrf_token": csrf})
    url = re.search(r'id="portal-link">([^<]+)<', link.text)
    assert url and "/portal/enter/pgl_" in url.group(1)
    (stored,) = await fetch(
        db_engine, "SELECT token_hash, issued_by FROM portal_links WHERE partner_id = :id", id=partner
    )
    assert url.group(1).rsplit("/", 1)[1] not in stored["token_hash"]  # only its hash is kept
