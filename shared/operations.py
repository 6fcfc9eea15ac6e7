"""One way to declare a JSON API route: its operation id, its documentation and every error status.

The developers' guide asks each handler for an ``operation_id`` and every status it can return
documented; ``operation`` takes both as required arguments, so a handler cannot leave them out, renders
the error statuses as ``application/problem+json`` (``shared.problems.problem_responses``), and takes
the operation's summary (first paragraph) and description (the rest) from the handler's docstring, so
that what the OpenAPI document says is what a reader of the code sees.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

from litestar import Controller
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec

from shared.problems import problem_responses
from shared.security import requires_service_token


def _paragraphs(doc: str | None) -> list[str]:
    """A docstring's paragraphs, each on one line (wrapped lines are joined with a space)."""
    return [" ".join(part.split()) for part in inspect.cleandoc(doc or "").split("\n\n") if part.strip()]


def operation(
    method: type[HTTPRouteHandler],
    path: str | Sequence[str],
    operation_id: str,
    errors: Sequence[int],
    *,
    answers: dict[int, ResponseSpec] | None = None,
    **options: Any,
) -> Callable[[Callable[..., Any]], HTTPRouteHandler]:
    """``method`` is Litestar's decorator (``get``, ``post``…), ``errors`` the statuses in the order
    they are documented; ``answers`` documents success bodies Litestar cannot infer (pre-encoded
    bytes), before the problems; ``options`` go to ``method`` unchanged."""
    responses = {**(answers or {}), **problem_responses(*errors)}

    def declare(handler: Callable[..., Any]) -> HTTPRouteHandler:
        paragraphs = _paragraphs(handler.__doc__)
        if not paragraphs:
            raise TypeError(f"{handler.__qualname__}: its docstring is the operation's summary")
        summary, *description = paragraphs
        return method(
            path,
            operation_id=operation_id,
            summary=summary,
            description="\n\n".join(description) or None,
            responses=responses,
            **options,
        )(handler)

    return declare


class ServiceTokenController(Controller):
    """A controller of internal routes: paygate's own services call them with the service token (the
    ``ServiceToken`` scheme both services document), never with a user's JWT."""

    guards = [requires_service_token]
    security = [{"ServiceToken": []}]
