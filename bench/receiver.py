"""A fast partner receiver for the dispatch scenarios, in its own process.

``POST /hook/{partner}`` answers 204 at once and records ``(webhook-id, receive time)``;
``POST /hang/{partner}`` records the arrival and never answers (the partner that hangs).
The bench reads the receipts back over ``GET /receipts/{partner}`` and clears them with
``POST /reset``. The first few raw requests per partner are kept so the bench can verify their
Standard Webhooks signatures without slowing the hot path down.

Run: ``python -m bench.receiver --port N``.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import defaultdict

import msgspec
from aiohttp import web

KEEP_SAMPLES = 3


class Receipts:
    def __init__(self) -> None:
        self.times: dict[str, list[tuple[str, float]]] = defaultdict(list)
        self.samples: dict[str, list[dict[str, object]]] = defaultdict(list)
        self.hung: dict[str, int] = defaultdict(int)

    def reset(self) -> None:
        self.times.clear()
        self.samples.clear()
        self.hung.clear()


async def _record(request: web.Request, receipts: Receipts) -> str:
    received = time.time()
    partner = request.match_info["partner"]
    body = await request.read()
    receipts.times[partner].append((request.headers.get("webhook-id", ""), received))
    samples = receipts.samples[partner]
    if len(samples) < KEEP_SAMPLES:
        samples.append(
            {
                "headers": {
                    k.lower(): v for k, v in request.headers.items() if k.lower().startswith("webhook-")
                },
                "body": body.decode(),
            }
        )
    return partner


def create_app() -> web.Application:
    receipts = Receipts()
    encoder = msgspec.json.Encoder()

    async def hook(request: web.Request) -> web.Response:
        await _record(request, receipts)
        return web.Response(status=204)

    async def hang(request: web.Request) -> web.Response:
        receipts.hung[request.match_info["partner"]] += 1
        await asyncio.sleep(3600)
        return web.Response(status=204)

    async def get_receipts(request: web.Request) -> web.Response:
        partner = request.match_info["partner"]
        payload = {
            "receipts": receipts.times.get(partner, []),
            "samples": receipts.samples.get(partner, []),
            "hung": receipts.hung.get(partner, 0),
        }
        return web.Response(body=encoder.encode(payload), content_type="application/json")

    async def counts(_request: web.Request) -> web.Response:
        payload = {"received": {k: len(v) for k, v in receipts.times.items()}, "hung": dict(receipts.hung)}
        return web.Response(body=encoder.encode(payload), content_type="application/json")

    async def reset(_request: web.Request) -> web.Response:
        receipts.reset()
        return web.Response(status=204)

    async def health(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application(client_max_size=4 * 1024 * 1024)
    app.router.add_post("/hook/{partner}", hook)
    app.router.add_post("/hang/{partner}", hang)
    app.router.add_get("/receipts/{partner}", get_receipts)
    app.router.add_get("/counts", counts)
    app.router.add_post("/reset", reset)
    app.router.add_get("/health", health)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop ships with granian's extras here
        pass
    web.run_app(create_app(), host=args.host, port=args.port, access_log=None, print=None, backlog=2048)


if __name__ == "__main__":
    main()
