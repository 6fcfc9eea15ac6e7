"""The measurement behind the gateway's and the dispatcher's HTTP client: the same POSTs, N in flight,
from one asyncio process, with httpx's own pool, httpx on the httpx-aiohttp transport, and aiohttp.

The server is ``bench.receiver`` (aiohttp, its own process, answers 204 at once). Reported per client:
requests/s and the client process's CPU milliseconds per request (``time.process_time`` around the
send loop only), both from the same run. On demand, not in CI:

    uv run python -m bench.transports [--count 5000] [--concurrency 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

import aiohttp
import httpx
import httpx_aiohttp

BODY = b'{"type": "payment.succeeded", "data": {"id": "x", "amount": 4200, "currency": "EUR"}}'
HEADERS = {"content-type": "application/json"}
Send = Callable[[], Awaitable[int]]


async def _drive(send: Send, count: int, concurrency: int) -> dict[str, float]:
    remaining = count
    errors = 0

    async def worker() -> None:
        nonlocal remaining, errors
        while remaining > 0:
            remaining -= 1
            if await send() >= 300:
                errors += 1

    for _ in range(min(200, count)):  # warm the pool up, unmeasured
        await send()
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {"rate": count / wall, "cpu_ms_per_request": 1000 * cpu / count, "errors": errors}


async def measure(url: str, count: int, concurrency: int) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits) as client:

        async def httpx_send() -> int:
            return (await client.post(url, content=BODY, headers=HEADERS)).status_code

        results["httpx (stock pool)"] = await _drive(httpx_send, count, concurrency)
    transport = httpx_aiohttp.AiohttpTransport()
    async with httpx.AsyncClient(transport=transport) as client:

        async def httpx_aiohttp_send() -> int:
            return (await client.post(url, content=BODY, headers=HEADERS)).status_code

        results["httpx on httpx-aiohttp"] = await _drive(httpx_aiohttp_send, count, concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def aiohttp_send() -> int:
            async with session.post(url, data=BODY, headers=HEADERS) as response:
                await response.read()
                return response.status

        results["aiohttp"] = await _drive(aiohttp_send, count, concurrency)
    return results


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    port = _free_port()
    receiver = subprocess.Popen([sys.executable, "-m", "bench.receiver", "--port", str(port)])
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise SystemExit("bench.receiver did not start") from None
                time.sleep(0.1)
        url = f"http://127.0.0.1:{port}/hook/transports"
        results = asyncio.run(measure(url, args.count, args.concurrency))
    finally:
        receiver.terminate()
        receiver.wait(10)
    baseline = results["aiohttp"]["rate"]
    for name, figures in results.items():
        print(
            f"{name:24} {figures['rate']:8,.0f} req/s  {figures['cpu_ms_per_request']:.3f} ms CPU/req  "
            f"{figures['rate'] / baseline:.2f}x aiohttp  errors {figures['errors']:.0f}"
        )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
