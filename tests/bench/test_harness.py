"""The bench harness's own moving parts, fast and over real loopback HTTP (no timing asserted):
the receiver counts and keeps signed samples, the raw sender's baseline is what the receiver saw,
receipts become per-event latencies with verified signatures, and the report's JSON has its schema."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from bench.dispatch_batches import Batch, collect
from bench.raw_sender import envelope, run
from bench.report import Report, Result, Target, render_table
from bench.seed import BenchPartner
from bench.stats import percentile
from shared.embedded_pg import free_port
from shared.webhooks import generate_secret, secret_key, signature_header


@pytest.fixture
async def receiver() -> AsyncIterator[str]:
    from bench.receiver import create_app

    runner = web.AppRunner(create_app())
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_raw_sender_baseline_matches_what_the_receiver_counted(receiver: str) -> None:
    result = await run(f"{receiver}/hook/raw", count=120, concurrency=8)
    async with httpx.AsyncClient() as client:
        counts = (await client.get(f"{receiver}/counts")).json()
        samples = (await client.get(f"{receiver}/receipts/raw")).json()["samples"]
    assert result["sent"] == 120 and result["errors"] == 0
    assert counts["received"] == {"raw": 120}
    assert result["rate"] > 0 and 0 < result["p50_ms"] <= result["p99_ms"]
    assert samples and samples[0]["headers"]["webhook-signature"].startswith("v1,")


async def test_receipts_become_latencies_and_signatures_are_verified(receiver: str) -> None:
    partner = BenchPartner(uuid.uuid4(), "fast-1", f"{receiver}/hook/fast-1", generate_secret())
    wrong = BenchPartner(uuid.uuid4(), "fast-2", f"{receiver}/hook/fast-2", generate_secret())
    events = [uuid.uuid4() for _ in range(3)]
    committed = time.time()
    async with httpx.AsyncClient() as client:
        for event_id in events:
            body = envelope(str(event_id))
            ts = int(time.time())
            for target, secret in ((partner, partner.secret), (wrong, generate_secret())):
                headers = {
                    "webhook-id": str(event_id),
                    "webhook-timestamp": str(ts),
                    "webhook-signature": signature_header([secret_key(secret)], str(event_id), ts, body),
                }
                await client.post(target.url, content=body, headers=headers)
        # a duplicate delivery of the first event and one of an event the bench never committed
        await client.post(partner.url, content=b"{}", headers={"webhook-id": str(events[0])})
        await client.post(partner.url, content=b"{}", headers={"webhook-id": str(uuid.uuid4())})
    batch = Batch(dict.fromkeys(events, committed))
    with httpx.Client() as sync_client:
        good = await asyncio.to_thread(collect, sync_client, receiver, partner, batch)
        bad = await asyncio.to_thread(collect, sync_client, receiver, wrong, batch)
    assert good.delivered == 3 and good.duplicates == 1
    assert 0 <= good.p50_ms <= good.p99_ms <= good.max_ms
    assert good.signatures_checked == 3 and good.signature_errors == []
    assert bad.signatures_checked == 3 and len(bad.signature_errors) == 3


def test_report_schema_targets_and_table(tmp_path: Path) -> None:
    report = Report({"quick": True})
    report.add(Result("checkout.floor", "floor", "req/s", 1000.0, 5.0, 20.0, 10_000, 0, is_baseline=True))
    gateway = report.add(Result("checkout.gateway", "gateway", "req/s", 400.0, 30.0, 120.0, 4_000, 2))
    ratio = report.relate("checkout.gateway", "checkout.floor")
    gateway.targets = [
        Target("ratio to floor", ratio, ">=", 0.25),
        Target("p99 ms", gateway.p99_ms, "<=", 100),
    ]
    report.memory_targets = [Target("gateway peak RSS MB", None, "<=", 200)]
    out = tmp_path / "latest.json"
    report.write(out)
    data = json.loads(out.read_text())
    assert data["schema_version"] == 1
    assert {"results", "memory", "summary", "machine", "config", "errors", "notes"} <= data.keys()
    by_name = {r["name"]: r for r in data["results"]}
    assert by_name["checkout.gateway"]["ratio"] == pytest.approx(0.4)
    assert by_name["checkout.gateway"]["baseline"] == "checkout.floor"
    assert [t["met"] for t in by_name["checkout.gateway"]["targets"]] == [True, False]
    assert data["summary"]["targets_missed"] == ["checkout.gateway: p99 ms"]
    assert data["summary"]["targets_unmeasured"] == ["memory: gateway peak RSS MB"]
    table = render_table(report)
    assert "checkout.gateway" in table and "MISS" in table and "0.40x (checkout.floor)" in table


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([], 99) == 0.0


async def test_floor_contract_route_keeps_the_idempotency_contract(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The diagnostic floor is only a fair comparison if it does the same work: one payment, one
    event, the same answer for the same key, 422 for the same key with another body."""
    from litestar.testing import AsyncTestClient
    from sqlalchemy import text

    from bench.floor_app import create_app
    from shared.db import create_engine

    monkeypatch.setenv("BENCH_FLOOR_DATABASE_URL", database_url)
    body = {
        "reservation_id": str(uuid.uuid4()),
        "user_id": str(uuid.uuid4()),
        "amount": 4200,
        "currency": "EUR",
        "return_url": "http://127.0.0.1:3000/return",
    }
    headers = {"Idempotency-Key": "contract-key-1"}
    async with AsyncTestClient(app=create_app()) as client:
        first = await client.post("/payments/contract", json=body, headers=headers)
        again = await client.post("/payments/contract", json=body, headers=headers)
        other = await client.post("/payments/contract", json={**body, "amount": 1}, headers=headers)
    assert first.status_code == 201 and again.status_code == 201
    assert again.content == first.content
    assert other.status_code == 422
    payment_id = first.json()["id"]
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as conn:
            payments = (await conn.execute(text("SELECT count(*) FROM payments"))).scalar_one()
            events = (
                await conn.execute(
                    text("SELECT type, data->>'id' FROM payment_events WHERE payment_id = :id"),
                    {"id": payment_id},
                )
            ).all()
    finally:
        await engine.dispose()
    assert payments == 1
    assert events == [("payment.created", payment_id)]


def test_every_bench_module_imports() -> None:
    """``make bench`` is not part of the suite: a module of it that fails at import (a decorator on
    the wrong line, a renamed import) would only show when someone runs it."""
    import importlib
    import pkgutil

    import bench

    names = [m.name for m in pkgutil.iter_modules(bench.__path__) if m.name != "__main__"]
    modules = {name: importlib.import_module(f"bench.{name}") for name in names}
    assert {"runner", "stack", "dispatch_scenarios", "http_scenarios"} <= set(modules)
    assert callable(modules["runner"].main)
