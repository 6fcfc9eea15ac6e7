"""Bad input is a 400 problem+json in both services, never a 500: JSON nested past the limit, and
integer query parameters out of their range (an offset past int64 was an overflow in SQL; lists now
page by cursor, whose limit is bounded)."""

from __future__ import annotations

import uuid

import httpx

from shared.jsonbody import MAX_JSON_DEPTH, json_depth_exceeds
from tests.fixtures.services import TEST_SERVICE_TOKEN, RunningService
from tests.gateway.conftest import MakeAccount

PROBLEM = "application/problem+json"
SERVICE = {"X-Service-Token": TEST_SERVICE_TOKEN}


def _nested(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


def test_the_depth_check_counts_brackets_outside_strings_only() -> None:
    assert not json_depth_exceeds(_nested(MAX_JSON_DEPTH).encode())
    assert json_depth_exceeds(_nested(MAX_JSON_DEPTH + 1).encode())
    assert json_depth_exceeds(('{"a":' * 40 + "1" + "}" * 40).encode())
    wide = "[" + ",".join(["[[1]]"] * 5000) + "]"
    assert not json_depth_exceeds(wide.encode())
    in_strings = '{"a": "' + "[" * 500 + '", "b": "\\"{{{{' + "{" * 500 + '"}'
    assert not json_depth_exceeds(in_strings.encode())


async def _post(http: httpx.AsyncClient, url: str, body: str, headers: dict[str, str]) -> httpx.Response:
    return await http.post(
        url, content=body.encode(), headers={"content-type": "application/json", **headers}
    )


async def test_deeply_nested_json_is_a_400_in_both_services(
    gateway: RunningService, payment_ms: RunningService, http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    admin = await make_account("admin")
    deep = _nested(1000)
    cases = [
        (f"{gateway.url}/auth/login", deep, {}),
        (f"{gateway.url}/auth/login", '{"email": ' + deep + ', "password": "x"}', {}),
        (f"{gateway.url}/admin/reservations", deep, admin.headers),
        (f"{gateway.url}/admin/reservations", '{"user_id": ' + _nested(5000, '"x"') + "}", admin.headers),
        (f"{payment_ms.url}/api/payments", deep, {**SERVICE, "Idempotency-Key": uuid.uuid4().hex}),
        (
            f"{payment_ms.url}/api/payments",
            '{"metadata": {"a": ' + deep + "}}",
            {**SERVICE, "Idempotency-Key": uuid.uuid4().hex},
        ),
    ]
    for url, body, headers in cases:
        response = await _post(http, url, body, headers)
        assert response.status_code == 400, (url, body[:40], response.status_code, response.text[:200])
        assert response.headers["content-type"] == PROBLEM
    # a body within the limit is read as usual (here: a wrong password)
    shallow = '{"email": "nobody@example.com", "password": "x"}'
    assert (await _post(http, f"{gateway.url}/auth/login", shallow, {})).status_code == 401


async def test_integer_query_parameters_are_bounded(
    gateway: RunningService, http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    user, admin = await make_account(), await make_account("admin")
    huge = "9223372036854775808"
    cases = [
        (user, "/reservations", {"limit": huge}),
        (user, "/reservations", {"limit": "201"}),
        (user, "/reservations", {"cursor": "c" * 201}),
        (admin, "/admin/reservations", {"limit": "-" + huge}),
        (admin, "/admin/reservations", {"cursor": huge}),
        (admin, "/admin/partners", {"limit": huge}),
        (admin, "/admin/partners", {"cursor": "not-a-cursor"}),
        (admin, "/admin/payments", {"limit": huge}),
        (admin, "/admin/deliveries", {"limit": huge}),
    ]
    for account, path, params in cases:
        response = await http.get(f"{gateway.url}{path}", params=params, headers=account.headers)
        assert response.status_code == 400, (path, params, response.status_code, response.text[:200])
        assert response.headers["content-type"] == PROBLEM
    for account, path in (
        (user, "/reservations"),
        (admin, "/admin/reservations"),
        (admin, "/admin/partners"),
    ):
        largest = await http.get(f"{gateway.url}{path}", params={"limit": "200"}, headers=account.headers)
        assert largest.status_code == 200 and largest.json()["next_cursor"] is None, (path, largest.text)


async def test_metadata_integers_past_bigint_are_refused_by_payment_ms(
    payment_ms: RunningService, http: httpx.AsyncClient
) -> None:
    body = {
        "reservation_id": str(uuid.uuid4()),
        "user_id": str(uuid.uuid4()),
        "amount": 2500,
        "currency": "EUR",
        "metadata": {"n": 2**64},
    }
    response = await http.post(
        f"{payment_ms.url}/api/payments", json=body, headers={**SERVICE, "Idempotency-Key": uuid.uuid4().hex}
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == PROBLEM
