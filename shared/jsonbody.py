"""A nesting limit on JSON request bodies.

msgspec decodes recursively: a body nested ~1,000 deep (``{"a":{"a":…}}``, a few KB) raises
``RecursionError`` wherever a body is decoded into ``Any`` or a ``dict`` field, which was a 500. No body
paygate accepts nests deeper than a few levels, so anything past ``MAX_JSON_DEPTH`` is a 400 before
it is decoded. The check runs in C (regex passes over the body's brackets), not per byte in Python.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec
from litestar import Request

from shared.problems import BadRequestError

T = TypeVar("T")
StructT = TypeVar("StructT", bound=msgspec.Struct)

MAX_JSON_DEPTH = 32

_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"')
_NOT_BRACKETS = re.compile(rb"[^\[\]{}]+")
_INNERMOST = re.compile(rb"\[\]|\{\}")


def json_depth_exceeds(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``body`` nests arrays/objects deeper than ``limit`` (brackets inside strings don't count).

    Each pass removes the innermost empty pairs; a body of depth d is bracket-free after d passes.
    Unbalanced brackets are left for the decoder to refuse as malformed."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    brackets = _NOT_BRACKETS.sub(b"", _STRINGS.sub(b"", body))
    for _ in range(limit):
        if not brackets:
            return False
        brackets, removed = _INNERMOST.subn(b"", brackets)
        if not removed:
            return False  # unbalanced: not this check's business
    return bool(brackets) and bool(_INNERMOST.search(brackets))


def check_json_depth(body: bytes) -> None:
    if json_depth_exceeds(body):
        raise BadRequestError(f"The JSON body is nested deeper than {MAX_JSON_DEPTH} levels.")


def decode_json_body(body: bytes, target: type[T], *, strict: bool = True, what: str = "request body") -> T:
    """``body`` decoded into ``target`` (msgspec, strict by default), every failure a 400."""
    check_json_depth(body)
    try:
        return msgspec.json.decode(body, type=target, strict=strict)
    except msgspec.ValidationError as exc:
        raise BadRequestError(f"Invalid {what}: {exc}") from None
    except msgspec.DecodeError:
        raise BadRequestError(f"The {what} is not valid JSON.") from None


async def strictly(request: Request[Any, Any, Any], data: StructT) -> StructT:
    """Re-check a JSON body with msgspec's strict mode: Litestar converts leniently, so ``"2500"``
    would pass as an amount and ``12345`` as a date-time. ``data`` stays in the handler's signature
    for the OpenAPI schema."""
    return decode_json_body(await request.body(), type(data))


class LimitedJsonRequest(Request[Any, Any, Any]):
    """Litestar's request, with the nesting limit applied before its own JSON decoding (``data``)."""

    async def json(self) -> Any:
        check_json_depth(await self.body())
        return await super().json()


def strict_body(struct_type: type[T]) -> Callable[[Request[Any, Any, Any]], Awaitable[T]]:
    """A Litestar dependency answering the body decoded strictly (an empty one is ``{}``)."""

    async def provide(request: Request[Any, Any, Any]) -> T:
        return decode_json_body(await request.body() or b"{}", struct_type)

    return provide
