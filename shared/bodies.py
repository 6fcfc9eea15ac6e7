"""Strict request bodies, for both services.

Litestar converts bodies leniently (``"100"`` becomes ``100``); money must not be guessed, so bodies
are decoded again with msgspec in strict mode: ``"100"``, ``true`` and ``10.5`` are not amounts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec
from litestar import Request

from shared.problems import BadRequestError

T = TypeVar("T")


async def strict_json(request: Request[Any, Any, Any], struct_type: type[T]) -> T:
    """The body as ``struct_type`` (an empty body is ``{}``), or a 400 problem saying why not."""
    raw = await request.body()
    try:
        return msgspec.json.decode(raw or b"{}", type=struct_type, strict=True)
    except msgspec.ValidationError as exc:
        raise BadRequestError(f"invalid request body: {exc}") from None
    except msgspec.DecodeError:
        raise BadRequestError("the request body is not valid JSON") from None


def strict_body(struct_type: type[T]) -> Callable[[Request[Any, Any, Any]], Awaitable[T]]:
    """A Litestar dependency answering the strictly decoded body."""

    async def provide(request: Request[Any, Any, Any]) -> T:
        return await strict_json(request, struct_type)

    return provide
