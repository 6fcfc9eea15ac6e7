"""Strict request bodies.

Litestar converts bodies leniently (``"100"`` becomes ``100``); money must not be guessed, so payment
bodies are decoded here with msgspec in strict mode: ``"100"``, ``true`` and ``10.5`` are not amounts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec
from litestar import Request

from shared.problems import BadRequestError

T = TypeVar("T")


def strict_body(struct_type: type[T]) -> Callable[[Request[Any, Any, Any]], Awaitable[T]]:
    async def provide(request: Request[Any, Any, Any]) -> T:
        raw = await request.body()
        try:
            return msgspec.json.decode(raw or b"{}", type=struct_type, strict=True)
        except msgspec.ValidationError as exc:
            raise BadRequestError(f"invalid request body: {exc}") from None
        except msgspec.DecodeError:
            raise BadRequestError("the request body is not valid JSON") from None

    return provide


async def raw_json(request: Request[Any, Any, Any]) -> object:
    """The body of a route that reads none, for its idempotency fingerprint: parsed JSON (so key order
    does not matter), the raw text otherwise, None when empty."""
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        parsed: object = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return raw.decode(errors="replace")
    return parsed
