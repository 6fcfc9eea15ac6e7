"""Strict request bodies.

Litestar converts bodies leniently (``"100"`` becomes ``100``); money must not be guessed, so payment
bodies are decoded here with msgspec in strict mode: ``"100"``, ``true`` and ``10.5`` are not amounts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec
from litestar import Request

from shared.jsonbody import check_json_depth, decode_json_body

T = TypeVar("T")


def strict_body(struct_type: type[T]) -> Callable[[Request[Any, Any, Any]], Awaitable[T]]:
    async def provide(request: Request[Any, Any, Any]) -> T:
        return decode_json_body(await request.body() or b"{}", struct_type)

    return provide


async def raw_json(request: Request[Any, Any, Any]) -> object:
    """The body of a route that reads none, for its idempotency fingerprint: parsed JSON (so key order
    does not matter), the raw text otherwise, None when empty."""
    raw = await request.body()
    if not raw.strip():
        return None
    check_json_depth(raw)
    try:
        parsed: object = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return raw.decode(errors="replace")
    return parsed
