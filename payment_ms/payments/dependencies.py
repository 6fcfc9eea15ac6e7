"""Strict request bodies.

Litestar converts bodies leniently (``"100"`` becomes ``100``); money must not be guessed, so payment
bodies are decoded here with msgspec in strict mode: ``"100"``, ``true`` and ``10.5`` are not amounts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from litestar import Request

from shared.jsonbody import decode_json_body

T = TypeVar("T")


def strict_body(struct_type: type[T]) -> Callable[[Request[Any, Any, Any]], Awaitable[T]]:
    async def provide(request: Request[Any, Any, Any]) -> T:
        return decode_json_body(await request.body() or b"{}", struct_type)

    return provide
