"""Login, tokens and guards over real HTTP."""

from __future__ import annotations

import time
import uuid

import httpx
import jwt
import pytest
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.settings import DEV_JWT_SECRET
from shared.models import User
from tests.fixtures.services import TEST_SERVICE_TOKEN, RunningService
from tests.fixtures.waiting import eventually
from tests.gateway.conftest import PASSWORD, Account, MakeAccount, login

PROBLEM = "application/problem+json"


def _claims(**overrides: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": str(uuid.uuid4()),
        "role": "user",
        "iss": "paygate-gateway",
        "aud": "paygate",
        "iat": now,
        "exp": now + 300,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


async def _refused_logins(
    http: httpx.AsyncClient, gateway: RunningService, email: str, password: str, times: int
) -> None:
    """``times`` logins with a wrong password, each refused with 401."""
    for _ in range(times):
        assert (await login(http, gateway.url, email, password)).status_code == 401


async def test_login_and_me(
    gateway: RunningService, http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    account = await make_account()
    response = await http.get(f"{gateway.url}/me", headers=account.headers)
    assert response.status_code == 200
    assert response.json() == {"id": str(account.id), "email": account.email, "role": "user"}
    claims = jwt.decode(account.token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 900
    assert claims["iss"] == "paygate-gateway" and claims["aud"] == "paygate"


async def test_token_answers_are_never_cached(
    gateway: RunningService, http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    account = await make_account()
    answer = await login(http, gateway.url, account.email)
    assert answer.status_code == 200 and "access_token" in answer.json()
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["pragma"] == "no-cache"


async def test_wrong_password_and_unknown_email_answer_the_same(
    gateway: RunningService, http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    account = await make_account()
    wrong = await login(http, gateway.url, account.email, "not the password")
    unknown = await login(http, gateway.url, "nobody@example.com", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.headers["content-type"] == unknown.headers["content-type"] == PROBLEM
    assert wrong.json() == unknown.json()
    assert "password" not in wrong.text.lower().replace("email or password is incorrect", "")


async def test_login_validation_is_problem_json(gateway: RunningService, http: httpx.AsyncClient) -> None:
    for body in (
        {"email": "a@b.c"},
        {"email": 5, "password": "x"},
        {"email": "a@b.c", "password": "x", "x": 1},
    ):
        response = await http.post(f"{gateway.url}/auth/login", json=body)
        assert response.status_code == 400, body
        assert response.headers["content-type"] == PROBLEM
    response = await http.post(
        f"{gateway.url}/auth/login", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400


async def test_an_address_that_keeps_failing_is_locked_out_of_that_account(
    gateway: RunningService, http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    account = await make_account()
    await _refused_logins(http, gateway, account.email, "wrong password", times=5)
    locked = await login(http, gateway.url, account.email, PASSWORD)
    assert locked.status_code == 429
    assert locked.headers["content-type"] == PROBLEM
    assert 0 < int(locked.headers["retry-after"]) <= 900
    # an unknown email is throttled identically (no account enumeration through 429s)
    await _refused_logins(http, gateway, "ghost@example.com", "wrong", times=5)
    assert (await login(http, gateway.url, "ghost@example.com", "wrong")).status_code == 429


async def test_address_throttling_counts_across_accounts(
    gateway: RunningService, http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    account = await make_account()
    for i in range(30):
        response = await login(http, gateway.url, f"guess-{i}@example.com", "wrong")
        assert response.status_code == 401
    blocked = await login(http, gateway.url, account.email, PASSWORD)
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0


async def test_successful_login_resets_the_account_counter(
    gateway: RunningService, http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    account = await make_account()
    await _refused_logins(http, gateway, account.email, "wrong", times=4)
    assert (await login(http, gateway.url, account.email)).status_code == 200
    await _refused_logins(http, gateway, account.email, "wrong", times=4)
    assert (await login(http, gateway.url, account.email)).status_code == 200


async def _me(gateway: RunningService, http: httpx.AsyncClient, token: str) -> httpx.Response:
    return await http.get(f"{gateway.url}/me", headers={"Authorization": f"Bearer {token}"})


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
async def test_bad_tokens_are_refused(
    gateway: RunningService, http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    account = await make_account()
    sub = str(account.id)
    bad = {
        "expired": jwt.encode(
            _claims(sub=sub, iat=int(time.time()) - 1000, exp=int(time.time()) - 100), DEV_JWT_SECRET
        ),
        "forged": jwt.encode(_claims(sub=sub), "some-other-secret-of-enough-length-000"),
        "wrong audience": jwt.encode(_claims(sub=sub, aud="someone-else"), DEV_JWT_SECRET),
        "wrong issuer": jwt.encode(_claims(sub=sub, iss="evil"), DEV_JWT_SECRET),
        "no exp": jwt.encode(_claims(sub=sub, exp=None), DEV_JWT_SECRET),
        "alg none": jwt.encode(_claims(sub=sub, role="admin"), None, algorithm="none"),
        "HS512 not configured": jwt.encode(_claims(sub=sub), DEV_JWT_SECRET, algorithm="HS512"),
        "tampered": account.token[:-4] + ("AAAA" if not account.token.endswith("AAAA") else "BBBB"),
        "garbage": "not-a-jwt",
        "service token as bearer": TEST_SERVICE_TOKEN,
    }
    for reason, token in bad.items():
        response = await _me(gateway, http, token)
        assert response.status_code == 401, reason
        assert response.headers["content-type"] == PROBLEM, reason
    assert (await http.get(f"{gateway.url}/me")).status_code == 401
    service_only = await http.get(f"{gateway.url}/me", headers={"X-Service-Token": TEST_SERVICE_TOKEN})
    assert service_only.status_code == 401
    # and the genuine token still works, so the refusals above are about the tokens
    assert (await _me(gateway, http, account.token)).status_code == 200


async def _status(http: httpx.AsyncClient, url: str, account: Account) -> int:
    return (await http.get(url, headers=account.headers)).status_code


async def test_a_disabled_or_deleted_users_token_stops_working(
    gateway: RunningService,
    http: httpx.AsyncClient,
    make_account: MakeAccount,
    db_engine: AsyncEngine,
) -> None:
    user, admin, deleted = await make_account(), await make_account(role="admin"), await make_account()
    routes = [(user, "/reservations"), (admin, "/admin/reservations"), (deleted, "/reservations")]
    for account, path in routes:
        assert await _status(http, f"{gateway.url}{path}", account) == 200
    async with db_engine.begin() as conn:
        await conn.execute(update(User).where(User.id.in_([user.id, admin.id])).values(is_active=False))
        await conn.execute(delete(User).where(User.id == deleted.id))
    # refused once the gateway reads the user again (GATEWAY_DISABLED_USER_CHECK_SECONDS, 0.5 s here)
    for account, path in routes:
        url = f"{gateway.url}{path}"
        await _until_status(http, url, account, 401)
        answer = await http.get(url, headers=account.headers)
        assert answer.status_code == 401 and answer.headers["content-type"] == PROBLEM


async def test_a_demoted_admin_loses_admin_rights_within_the_window(
    gateway: RunningService,
    http: httpx.AsyncClient,
    make_account: MakeAccount,
    db_engine: AsyncEngine,
) -> None:
    admin = await make_account(role="admin")
    admin_route, user_route = f"{gateway.url}/admin/reservations", f"{gateway.url}/reservations"
    assert await _status(http, admin_route, admin) == 200
    async with db_engine.begin() as conn:
        await conn.execute(update(User).where(User.id == admin.id).values(role="user"))
    # the same token: its "role": "admin" claim no longer counts, the user row does
    await _until_status(http, admin_route, admin, 403)
    me = await http.get(f"{gateway.url}/me", headers=admin.headers)
    assert me.status_code == 200 and me.json()["role"] == "user"
    assert await _status(http, user_route, admin) == 200  # still a user
    async with db_engine.begin() as conn:  # and promoted again: the same token is an admin's again
        await conn.execute(update(User).where(User.id == admin.id).values(role="admin"))
    await _until_status(http, admin_route, admin, 200)


async def _until_status(http: httpx.AsyncClient, url: str, account: Account, expected: int) -> None:
    """Wait (on the answer, with a deadline well past the 0.5 s window) until ``url`` answers ``expected``."""

    async def answers() -> bool:
        return await _status(http, url, account) == expected

    await eventually(answers, timeout=10, what=f"{url} answers {expected}")
