"""One bad partner never hurts the others; a gateway outage delays fan-out but loses nothing; 410
disables the endpoint; the SSRF guard keeps deliveries away from internal addresses."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine
from yarl import URL

from payment_ms.dispatcher.ssrf import BlockedDestinationError, GuardedResolver, UrlPolicy
from shared.embedded_pg import free_port
from tests.dispatcher.conftest import (
    Received,
    Receiver,
    add_event,
    add_partner,
    disabled_partner,
    fetch,
    running_dispatcher,
)
from tests.fixtures.services import run_service, service_env
from tests.fixtures.waiting import eventually


async def test_a_hanging_partner_does_not_hold_up_a_healthy_one(
    db_engine: AsyncEngine, receiver: Receiver, dispatch: Callable[..., Any]
) -> None:
    release = asyncio.Event()
    concurrent = {"now": 0, "max": 0}

    async def hang(_: Received) -> web.StreamResponse:
        concurrent["now"] += 1
        concurrent["max"] = max(concurrent["max"], concurrent["now"])
        try:
            await release.wait()
        finally:
            concurrent["now"] -= 1
        return web.Response(status=200)

    receiver.behaviours["slow"] = hang
    await add_partner(db_engine, receiver.url("slow"))
    await add_partner(db_engine, receiver.url("fast"))
    async with dispatch(per_partner_concurrency=2, request_timeout_seconds=30.0, lease_seconds=60.0):
        for _ in range(12):
            await add_event(db_engine)
        # Every healthy delivery arrives while the slow partner has not answered a single one.
        await receiver.wait_count("fast", 12)
        assert not release.is_set() and len(receiver.at("slow")) == 2
        assert concurrent["max"] == 2
        release.set()
        await receiver.wait_count("slow", 12)

        async def all_done() -> bool:
            rows = await fetch(db_engine, "SELECT status FROM webhook_deliveries")
            return len(rows) == 24 and {r["status"] for r in rows} == {"succeeded"}

        await eventually(all_done, what="24 succeeded deliveries")
    assert concurrent["max"] == 2


async def test_410_disables_the_partner_and_stops_its_deliveries(
    db_engine: AsyncEngine, receiver: Receiver, dispatch: Callable[..., Any]
) -> None:
    gone = receiver.hold("gone", 410, text="gone")
    partner_id, _ = await add_partner(db_engine, receiver.url("gone"))
    async with dispatch(per_partner_concurrency=1, retry_schedule_seconds=[60.0]):
        for _ in range(3):
            await add_event(db_engine)
        await receiver.wait_count("gone", 1)

        async def fanned_out() -> bool:
            rows = await fetch(db_engine, "SELECT count(*) AS n FROM webhook_deliveries")
            return rows[0]["n"] == 3

        # Events fanned out after the partner is disabled get no delivery for it: answer 410 only
        # once all three are queued, so the held ones are what this test looks at.
        await eventually(fanned_out, what="all three events fanned out to the partner")
        gone.set()

        partner = await disabled_partner(db_engine, partner_id, "the partner disabled through the gateway")
        assert "410" in partner["disabled_reason"]

        async def stopped() -> list[str]:
            rows = await fetch(
                db_engine, "SELECT status, held FROM webhook_deliveries ORDER BY attempt_count DESC"
            )
            statuses = [f"{r['status']}:{r['held']}" for r in rows]
            return statuses if "pending:None" not in statuses else []

        # The others wait for the partner to be enabled again (held), nothing more is sent.
        statuses = await eventually(stopped, what="no delivery left due")
    assert statuses == ["failed:None", "pending:disabled", "pending:disabled"]
    assert len(receiver.at("gone")) == 1


async def test_gateway_down_then_up_fans_the_event_out_later(
    db_engine: AsyncEngine, database_url: str, log_dir: Path, receiver: Receiver
) -> None:
    await add_partner(db_engine, receiver.url("patient"))
    port = free_port()  # where the dispatcher finds the gateway (its internal listener) once it is up
    async with running_dispatcher(database_url, f"http://127.0.0.1:{port}"):
        _, event_id = await add_event(db_engine)

        async def retried() -> list[dict[str, Any]]:
            rows = await fetch(
                db_engine,
                "SELECT fan_out_attempts, fanned_out_at FROM payment_events WHERE id = :id",
                id=event_id,
            )
            return rows if rows[0]["fan_out_attempts"] >= 2 else []

        [event] = await eventually(retried, what="fan-out retried while the gateway is down")
        assert event["fanned_out_at"] is None
        assert await fetch(db_engine, "SELECT id FROM webhook_deliveries") == []

        with ExitStack() as stack:
            gateway = run_service("gateway", service_env(database_url), log_dir, internal_port=port)
            await asyncio.to_thread(stack.enter_context, gateway)
            (got,) = await receiver.wait_count("patient", 1, timeout=15)
    assert got.msg_id == str(event_id)


async def _refused_delivery(db_engine: AsyncEngine, database_url: str, gateway: Any) -> dict[str, Any]:
    """The one partner's delivery of a new event, failed at once by a dispatcher that allows no
    loopback destination and does not retry."""
    async with running_dispatcher(
        database_url, gateway.internal_url, allow_loopback=False, retry_schedule_seconds=[]
    ):
        await add_event(db_engine)

        async def failed() -> list[dict[str, Any]]:
            return await fetch(db_engine, "SELECT * FROM webhook_deliveries WHERE status = 'failed'")

        [delivery] = await eventually(failed, what="the delivery refused")
    return delivery


async def test_loopback_is_refused_when_not_allowed(
    db_engine: AsyncEngine, receiver: Receiver, database_url: str, gateway: Any
) -> None:
    await add_partner(db_engine, receiver.url("internal"))
    delivery = await _refused_delivery(db_engine, database_url, gateway)
    assert delivery["last_error"].startswith("blocked:")
    assert receiver.at("internal") == []


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://93.184.215.14/hook", True),
        ("http://93.184.215.14/hook", False),
        ("https://10.0.0.8/hook", False),
        ("https://192.168.1.1/hook", False),
        ("https://169.254.169.254/latest/meta-data", False),
        ("https://127.0.0.1/hook", False),
        ("https://[::1]/hook", False),
        ("https://[::ffff:127.0.0.1]/hook", False),
        ("https://[fd00::1]/hook", False),
        ("https://0.0.0.0/hook", False),
        ("ftp://93.184.215.14/hook", False),
        # IPv6 forms that carry (and reach) an IPv4 address are judged by that address.
        ("https://[::ffff:10.0.0.1]/hook", False),
        ("https://[::ffff:93.184.215.14]/hook", True),
        ("https://[64:ff9b::10.0.0.1]/hook", False),
        ("https://[64:ff9b::169.254.169.254]/hook", False),
        ("https://[64:ff9b::127.0.0.1]/hook", False),
        ("https://[64:ff9b::93.184.215.14]/hook", True),
        ("https://[64:ff9b:1::a00:1]/hook", False),
        ("https://[2002:a00:1::1]/hook", False),
        ("https://[2002:c0a8:101::1]/hook", False),
        ("https://[2002:5db8:d70e::1]/hook", True),
        ("https://[::10.0.0.1]/hook", False),
        ("https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/hook", True),
        ("https://10.1.2.3/allow-listed-network", True),
        ("https://[::ffff:10.1.2.3]/allow-listed-network", True),
        ("http://partner.internal/hook", True),
        # multicast and the IPv4-translated range (RFC 2765), which Python calls global
        ("https://224.0.0.1/hook", False),
        ("https://239.255.255.250/hook", False),
        ("https://[ff02::1]/hook", False),
        ("https://[ff0e::1]/hook", False),
        ("https://[::ffff:0:7f00:1]/hook", False),
        ("https://[::ffff:0:808:808]/hook", False),
        # numeric hosts a URL parser may read as loopback, stored before the registry refused them
        ("https://127.1/hook", False),
        ("https://0x7f.0.0.1/hook", False),
        ("https://0177.0.0.1/hook", False),
        ("https://127.0.0.1./hook", False),
    ],
)
def test_url_policy(url: str, allowed: bool) -> None:
    policy = UrlPolicy(["10.1.0.0/16", "partner.internal"], allow_loopback=False)
    if allowed:
        policy.check_url(URL(url))
    else:
        with pytest.raises(BlockedDestinationError):
            policy.check_url(URL(url))


def test_loopback_over_http_only_when_allowed() -> None:
    dev = UrlPolicy([], allow_loopback=True)
    dev.check_url(URL("http://127.0.0.1:9000/hook"))
    dev.check_url(URL("http://localhost:9000/hook"))
    with pytest.raises(BlockedDestinationError):
        dev.check_url(URL("http://partner.example/hook"))
    with pytest.raises(BlockedDestinationError):
        dev.check_url(URL("https://10.0.0.1/hook"))


async def test_the_resolved_address_is_checked_on_a_real_send(
    db_engine: AsyncEngine, receiver: Receiver, database_url: str, gateway: Any
) -> None:
    """``localhost`` passes the URL check (a name, https) and is refused once it resolves to loopback."""
    port = URL(receiver.base_url).port
    await add_partner(db_engine, f"https://localhost:{port}/by-name")
    delivery = await _refused_delivery(db_engine, database_url, gateway)
    [attempt] = await fetch(
        db_engine, "SELECT * FROM delivery_attempts WHERE delivery_id = :id", id=delivery["id"]
    )
    assert attempt["error"] == "blocked: localhost resolves to a non-public address"
    assert attempt["status_code"] is None
    assert receiver.received == []


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("93.184.215.14", True),
        ("10.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("64:ff9b::a00:1", False),
        ("2002:a00:1::", False),
        ("64:ff9b::5db8:d70e", True),
        ("224.0.0.1", False),
        ("ff02::1", False),
        ("ff0e::1", False),
        ("::ffff:0:7f00:1", False),
        ("::ffff:0:808:808", False),
    ],
)
def test_resolved_addresses_with_embedded_ipv4(address: str, allowed: bool) -> None:
    policy = UrlPolicy([], allow_loopback=False)
    if allowed:
        policy.check_address("partner.example", address)
    else:
        with pytest.raises(BlockedDestinationError, match="non-public"):
            policy.check_address("partner.example", address)


async def test_the_resolved_address_is_checked() -> None:
    strict = GuardedResolver(UrlPolicy([], allow_loopback=False))
    with pytest.raises(BlockedDestinationError):
        await strict.resolve("localhost", 443)
    relaxed = GuardedResolver(UrlPolicy([], allow_loopback=True))
    assert {r["host"] for r in await relaxed.resolve("localhost", 443)} <= {"127.0.0.1", "::1"}
    listed = GuardedResolver(UrlPolicy(["localhost"], allow_loopback=False))
    assert await listed.resolve("localhost", 443)
