"""Baseline (c) of the dispatch scenarios: raw signed POSTs from one asyncio process.

No database, no bookkeeping: build the envelope, sign it (Standard Webhooks, ``shared.webhooks``),
POST it with aiohttp to the same receiver the dispatcher sends to, with ``--concurrency`` requests in
flight. The ceiling one Python process reaches on this machine; the dispatcher is measured against it.
Prints one JSON object: sent, seconds, rate, p50/p99 of the request round trip (ms), errors.

Run: ``python -m bench.raw_sender --url http://127.0.0.1:N/hook/raw --count 20000``.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

import aiohttp
import msgspec

from bench.stats import percentile
from shared.webhooks import generate_secret, secret_key, signature_header


def envelope(event_id: str) -> bytes:
    """A body of the dispatcher's size: a payment.succeeded envelope."""
    now = "2026-11-22T12:00:00Z"
    return msgspec.json.encode(
        {
            "type": "payment.succeeded",
            "timestamp": now,
            "data": {
                "id": event_id,
                "reservation_id": str(uuid.uuid4()),
                "user_id": str(uuid.uuid4()),
                "amount": 4200,
                "currency": "EUR",
                "status": "succeeded",
                "provider": "mock",
                "capture_method": "automatic",
                "captured_amount": 4200,
                "refunded_amount": 0,
                "description": "bench reservation",
                "checkout_url": f"http://127.0.0.1:8001/checkout/mock/{event_id}",
                "return_url": "http://127.0.0.1:3000/return",
                "cancel_url": "http://127.0.0.1:3000/cancel",
                "payer_email": None,
                "payer_name": None,
                "metadata": {},
                "failure_reason": None,
                "confirmed_by": None,
                "confirmed_at": None,
                "created_at": now,
                "updated_at": now,
            },
        }
    )


async def run(url: str, count: int, concurrency: int) -> dict[str, float]:
    keys = [secret_key(generate_secret())]
    latencies: list[float] = []
    errors = 0
    next_index = 0
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency)
    timeout = aiohttp.ClientTimeout(total=15, connect=5)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def worker() -> None:
            nonlocal next_index, errors
            while next_index < count:
                next_index += 1
                msg_id = f"msg_{uuid.uuid4().hex}"
                body = envelope(msg_id)
                timestamp = int(time.time())
                headers = {
                    "content-type": "application/json",
                    "webhook-id": msg_id,
                    "webhook-timestamp": str(timestamp),
                    "webhook-signature": signature_header(keys, msg_id, timestamp, body),
                }
                started = time.perf_counter()
                try:
                    async with session.post(url, data=body, headers=headers, allow_redirects=False) as resp:
                        await resp.read()
                        if resp.status >= 300:
                            errors += 1
                except (aiohttp.ClientError, TimeoutError):
                    errors += 1
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    cpu = time.process_time()
    return {
        "sent": len(latencies),
        "errors": errors,
        "seconds": elapsed,
        "rate": len(latencies) / elapsed if elapsed else 0.0,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "cpu_seconds": cpu,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass
    # the loop the dispatcher runs on, so the baseline is the same Python on the same loop
    result = uvloop.run(run(args.url, args.count, args.concurrency))
    print(msgspec.json.encode(result).decode())


if __name__ == "__main__":
    main()
