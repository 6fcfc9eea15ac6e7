"""Console and portal fixtures: accounts and reservations (the gateway's helpers), a partner receiver
and dispatchers (the dispatcher's), and browsers signed in over real HTTP."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from tests.dispatcher.conftest import _receiver_server, dispatch, receiver  # noqa: F401 (fixtures)
from tests.fixtures.checkout import PASSWORD, Account, checkouts, make_account, make_reservation  # noqa: F401 (fixtures)
from tests.fixtures.services import RunningService

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


async def post_login(client: httpx.AsyncClient, account: Account, **fields: str) -> httpx.Response:
    """The console's sign-in form as a browser sends it: the page loaded, then posted with its token."""
    form = await client.get("/console/login")
    assert form.status_code == 200, form.text
    data = {"csrf_token": csrf_of(form.text), "email": account.email, "password": PASSWORD, **fields}
    return await client.post("/console/login", data=data)


SignIn = Callable[[Account], Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def sign_in(gateway: RunningService) -> AsyncIterator[SignIn]:
    """``client = await sign_in(admin)``: a cookie-keeping client signed in to the console's form."""
    clients: list[httpx.AsyncClient] = []

    async def sign(account: Account) -> httpx.AsyncClient:
        client = httpx.AsyncClient(base_url=gateway.url, timeout=10.0)
        clients.append(client)
        answer = await post_login(client, account, next="/console")
        assert answer.status_code == 303, answer.text
        return client

    yield sign
    for client in clients:
        await client.aclose()
