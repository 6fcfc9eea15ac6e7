"""The console over plain HTTP: who may see it, CSRF, expiry, the security headers."""

from __future__ import annotations

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.console.conftest import SignIn, csrf_of
from tests.fixtures.services import RunningService
from tests.gateway.conftest import MakeAccount

CONSOLE_PAGES = ["/console", "/console/payments", "/console/partners", "/console/deliveries"]


async def test_an_admin_signs_in_and_sees_every_page_with_the_security_headers(
    make_account: MakeAccount, sign_in: SignIn
) -> None:
    admin = await make_account("admin")
    client = await sign_in(admin)
    for path in CONSOLE_PAGES:
        answer = await client.get(path)
        assert answer.status_code == 200, (path, answer.text)
        assert answer.headers["content-type"].startswith("text/html")
        assert answer.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
        assert "script-src" not in answer.headers["content-security-policy"]  # default-src 'none' covers it
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert "<script" not in answer.text
    cookie = client.cookies.jar
    session = next(c for c in cookie if c.name == "paygate_console")
    assert session.has_nonstandard_attr("HttpOnly") or session._rest.get("HttpOnly") is not None  # noqa: SLF001
