"""Login throttling that a stranger cannot turn against the owner, and the client address behind
trusted proxies. Distinct clients are distinct loopback source addresses (127.0.0.x) over real HTTP,
or, behind the trusted proxy (the peer 127.0.0.1), distinct X-Forwarded-For hops."""

from __future__ import annotations

import ipaddress
import json
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from shared.proxies import FORWARDED, X_FORWARDED_FOR, client_address, parse_networks
from shared.settings import PaygateSettings
from tests.fixtures.services import RunningService, run_service, service_env
from tests.gateway.conftest import PASSWORD, MakeAccount

PROBLEM = "application/problem+json"
PER_ACCOUNT_ADDRESS, PER_ADDRESS, SLOWDOWN_AFTER, SLOWDOWN_SECONDS = 3, 8, 4, 60


@pytest.fixture(scope="module")
def throttled(database_url: str, payment_ms: RunningService, log_dir: Path) -> Iterator[RunningService]:
    """A gateway behind a trusted proxy (127.0.0.1), with small limits and a long slow-down, so that
    nothing here depends on how fast the machine is."""
    env = service_env(
        database_url,
        GATEWAY_PAYMENT_MS_URL=payment_ms.url,
        PAYGATE_TRUSTED_PROXIES=json.dumps(["127.0.0.1/32"]),
        GATEWAY_LOGIN_MAX_FAILURES_PER_ACCOUNT_ADDRESS=str(PER_ACCOUNT_ADDRESS),
        GATEWAY_LOGIN_MAX_FAILURES_PER_ADDRESS=str(PER_ADDRESS),
        GATEWAY_LOGIN_ACCOUNT_SLOWDOWN_AFTER=str(SLOWDOWN_AFTER),
        GATEWAY_LOGIN_SLOWDOWN_SECONDS=str(SLOWDOWN_SECONDS),
        PAYGATE_LOG_LEVEL="INFO",
        PAYGATE_LOG_JSON="true",
    )
    with run_service("gateway", env, log_dir) as service:
        yield service


@asynccontextmanager
async def client_at(address: str) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client whose requests come from ``address`` (any 127.0.0.0/8 address is loopback)."""
    transport = httpx.AsyncHTTPTransport(local_address=address)
    async with httpx.AsyncClient(transport=transport, timeout=10.0) as client:
        yield client


async def _login(
    client: httpx.AsyncClient, gateway: RunningService, email: str, password: str, **headers: str
) -> httpx.Response:
    return await client.post(
        f"{gateway.url}/auth/login", json={"email": email, "password": password}, headers=headers
    )


def _is_throttled(response: httpx.Response, longest: int) -> None:
    assert response.status_code == 429, (response.status_code, response.text)
    assert response.headers["content-type"] == PROBLEM
    assert 0 < int(response.headers["retry-after"]) <= longest


async def test_a_strangers_failures_never_lock_the_owner_out(
    throttled: RunningService, make_account: MakeAccount
) -> None:
    victim = await make_account(base_url=throttled.url)
    # the same account however the email is written: case and surrounding spaces hit one counter
    variants = [victim.email, victim.email.upper(), f"  {victim.email} ", victim.email.title()]
    async with client_at("127.0.0.2") as stranger:
        for email in variants[:PER_ACCOUNT_ADDRESS]:
            assert (await _login(stranger, throttled, email, "guess")).status_code == 401
        _is_throttled(await _login(stranger, throttled, variants[-1], "guess"), 900)
        _is_throttled(await _login(stranger, throttled, victim.email, PASSWORD), 900)
    async with client_at("127.0.0.3") as owner:
        mine = await _login(owner, throttled, victim.email, PASSWORD)
    assert mine.status_code == 200, mine.text
    async with httpx.AsyncClient() as http:
        me = await http.get(
            f"{throttled.url}/me", headers={"Authorization": f"Bearer {mine.json()['access_token']}"}
        )
    assert me.status_code == 200 and me.json()["id"] == str(victim.id)


async def test_a_distributed_guess_slows_only_the_addresses_that_fail(
    throttled: RunningService, make_account: MakeAccount
) -> None:
    victim = await make_account(base_url=throttled.url)
    strangers = [f"127.0.0.{10 + i}" for i in range(SLOWDOWN_AFTER + 2)]
    for address in strangers:  # one guess each: no address reaches its own limits
        async with client_at(address) as stranger:
            assert (await _login(stranger, throttled, victim.email, "guess")).status_code == 401
    # the account is past its slow-down threshold: the addresses that failed since then must wait...
    async with client_at(strangers[-1]) as stranger:
        _is_throttled(await _login(stranger, throttled, victim.email, "guess"), SLOWDOWN_SECONDS)
    # ...an address that failed before it is still checked (a 401, not refused)...
    async with client_at(strangers[0]) as early:
        assert (await _login(early, throttled, victim.email, "guess")).status_code == 401
    # ...and an address that has not failed is never refused: a wrong password is checked, the right one works
    async with client_at("127.0.0.30") as newcomer:
        assert (await _login(newcomer, throttled, victim.email, "guess")).status_code == 401
    async with client_at("127.0.0.3") as owner:
        assert (await _login(owner, throttled, victim.email, PASSWORD)).status_code == 200


async def test_behind_a_trusted_proxy_the_forwarded_client_is_throttled(
    throttled: RunningService, make_account: MakeAccount, log_dir: Path
) -> None:
    victim = await make_account(base_url=throttled.url)
    attacker = "198.51.100.7"
    async with client_at("127.0.0.1") as proxy:
        for i in range(PER_ADDRESS):
            # the left part is the client's own (spoofable) header; the proxy appended the right-most hop
            forwarded = f"10.{i}.0.1, {attacker}"
            response = await _login(
                proxy, throttled, f"guess-{i}@example.com", "guess", **{"X-Forwarded-For": forwarded}
            )
            assert response.status_code == 401, (i, response.text)
        _is_throttled(
            await _login(
                proxy, throttled, victim.email, PASSWORD, **{"X-Forwarded-For": f"9.9.9.9, {attacker}"}
            ),
            900,
        )
        # the proxy itself is not throttled: another client behind it logs in
        other = await _login(proxy, throttled, victim.email, PASSWORD, **{"X-Forwarded-For": "198.51.100.8"})
        assert other.status_code == 200, other.text
        marker = f"proxied-{uuid.uuid4().hex[:8]}"
        unknown = await proxy.get(
            f"{throttled.url}/no-such-page", headers={"X-Forwarded-For": attacker, "X-Request-ID": marker}
        )
        assert unknown.status_code == 404
    access = await _access_line(log_dir / f"gateway-{throttled.url.rsplit(':', 1)[1]}.log", marker)
    assert access["client"] == attacker and access["status"] == 404 and access["path"] == "/no-such-page"


async def test_an_untrusted_peers_forwarded_for_is_ignored(
    throttled: RunningService, make_account: MakeAccount
) -> None:
    victim = await make_account(base_url=throttled.url)
    async with client_at("127.0.0.4") as untrusted:
        for i in range(PER_ADDRESS):  # a new X-Forwarded-For each time: the key stays 127.0.0.4
            response = await _login(
                untrusted,
                throttled,
                f"guess-{i}@example.com",
                "guess",
                **{"X-Forwarded-For": f"203.0.113.{i}"},
            )
            assert response.status_code == 401, (i, response.text)
        _is_throttled(
            await _login(untrusted, throttled, victim.email, PASSWORD, **{"X-Forwarded-For": "203.0.113.99"}),
            900,
        )


async def _access_line(log: Path, request_id: str) -> dict[str, object]:
    """The access line of ``request_id`` (written after the response was sent: wait for it)."""
    from tests.fixtures.waiting import eventually

    async def find() -> dict[str, object] | None:
        for line in log.read_text().splitlines():
            if line.startswith("{") and request_id in line:
                record: dict[str, object] = json.loads(line)
                if record.get("logger") == "paygate.access":
                    return record
        return None

    found = await eventually(find, what=f"access line of {request_id}")
    assert found is not None
    return found


TRUSTED = parse_networks(["10.0.0.0/8", "2001:db8::/32"])


@pytest.mark.parametrize(
    "peer,header,value,expected",
    [
        ("192.0.2.1", X_FORWARDED_FOR, "198.51.100.1", "192.0.2.1"),  # untrusted peer: headers ignored
        ("10.0.0.2", X_FORWARDED_FOR, "", "10.0.0.2"),  # no header: the proxy is the client
        ("10.0.0.2", X_FORWARDED_FOR, "6.6.6.6, 198.51.100.1", "198.51.100.1"),
        ("10.0.0.2", X_FORWARDED_FOR, "198.51.100.1, 10.1.1.1, 10.2.2.2", "198.51.100.1"),  # proxy chain
        ("10.0.0.2", X_FORWARDED_FOR, "10.1.1.1", "10.1.1.1"),  # every hop trusted: the left-most
        ("10.0.0.2", X_FORWARDED_FOR, "198.51.100.1:4711", "198.51.100.1"),
        ("10.0.0.2", X_FORWARDED_FOR, "6.6.6.6, unknown", "10.0.0.2"),  # not an address: stop there
        ("10.0.0.2", FORWARDED, "for=6.6.6.6, for=198.51.100.1;proto=https;by=10.0.0.2", "198.51.100.1"),
        ("10.0.0.2", FORWARDED, 'for="[2001:db9::1]:4711"', "2001:db9::1"),
        ("::ffff:10.0.0.2", FORWARDED, "For=198.51.100.2", "198.51.100.2"),
        ("2001:db8::5", X_FORWARDED_FOR, "2001:db9::7", "2001:db9::7"),
        ("10.0.0.2", FORWARDED, "", "10.0.0.2"),
    ],
)
def test_the_client_is_the_right_most_untrusted_hop(
    peer: str, header: str, value: str, expected: str
) -> None:
    headers = [(header.encode(), value.encode())] if value else []
    # the other header, written by the client, is never read
    other = FORWARDED if header == X_FORWARDED_FOR else X_FORWARDED_FOR
    headers.append((other.encode(), b"for=6.6.6.6" if other == FORWARDED else b"6.6.6.6"))
    found = client_address(peer, headers, TRUSTED, header)
    assert found is not None and ipaddress.ip_address(found) == ipaddress.ip_address(expected)


def test_a_bad_trusted_proxies_entry_is_named() -> None:
    with pytest.raises(ValueError, match=re.escape("'10.0.0.0/33' is not an IP address or CIDR")):
        PaygateSettings(trusted_proxies=["10.0.0.0/8", "10.0.0.0/33"])
    assert PaygateSettings(trusted_proxies=[" 10.1.2.3/8", "::1"]).trusted_proxies == [
        "10.0.0.0/8",
        "::1/128",
    ]
