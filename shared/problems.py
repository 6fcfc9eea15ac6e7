"""One small error hierarchy, rendered as RFC 9457 problem+json by one set of handlers.

Services raise ``ApplicationError`` subclasses; Litestar's own ``HTTPException`` (validation, malformed
JSON, 404 routes, 405, body too large) and anything unexpected are rendered the same way, so a client
only ever sees ``application/problem+json`` for an error. Unexpected errors say nothing about internals;
a database that refuses or drops connections is a 503 with ``Retry-After`` (``database-unavailable``),
not a 500, on every route.
"""

from __future__ import annotations

import logging
from typing import Any, TypeVar

import msgspec
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR, HTTP_503_SERVICE_UNAVAILABLE
from litestar.types import ExceptionHandlersMap

from shared.db import is_database_unavailable

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE_BASE = "https://paygate.dev/problems/"

logger = logging.getLogger("paygate.errors")


class ApplicationError(Exception):
    """A subclass declares its problem in its class line: ``status`` (the HTTP status), ``code`` (the
    problem type's last segment) and ``title``; one it leaves out is its parent's."""

    status_code: int = 400
    code: str = "bad-request"
    title: str = "Bad request"

    def __init_subclass__(
        cls, *, status: int | None = None, code: str | None = None, title: str | None = None
    ) -> None:
        super().__init_subclass__()
        if status is not None:
            cls.status_code = status
        if code is not None:
            cls.code = code
        if title is not None:
            cls.title = title

    def __init__(
        self,
        detail: str | None = None,
        *,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = extra or {}
        self.headers = headers or {}

    def detail_at(self, path: str) -> str:
        """The detail answered for a request to ``path`` (a relayed problem names the caller's route)."""
        return self.detail


class BadRequestError(ApplicationError): ...


class InvalidInputError(ApplicationError, status=422, code="invalid-input", title="Invalid input"): ...


class IdempotencyKeyReusedError(
    InvalidInputError, code="idempotency-key-reused", title="Idempotency-Key reused for a different request"
):
    """IETF Idempotency-Key draft: the same key with another request (its fingerprint differs)."""

    def __init__(self) -> None:
        super().__init__("this Idempotency-Key was used for a different request")


class AuthenticationError(
    ApplicationError, status=401, code="unauthenticated", title="Authentication required"
): ...


class NotFoundError(ApplicationError, status=404, code="not-found", title="Not found"): ...


Found = TypeVar("Found")


def found(row: Found | None, message: str) -> Found:
    """``row`` itself, or a 404 with ``message`` when there is none: get-or-404 spelled once."""
    if row is None:
        raise NotFoundError(message)
    return row


class ConflictError(ApplicationError, status=409, code="conflict", title="Conflict"): ...


class TooManyRequestsError(
    ApplicationError, status=429, code="too-many-requests", title="Too many requests"
): ...


class UpstreamUnavailableError(
    ApplicationError,
    status=503,
    code="upstream-unavailable",
    title="A service this request depends on is unavailable",
): ...


class UpstreamTimeoutError(
    ApplicationError,
    status=504,
    code="upstream-timeout",
    title="A service this request depends on did not answer in time",
): ...


def problem_response(
    status: int,
    title: str,
    detail: str | None = None,
    *,
    code: str | None = None,
    instance: str | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + (code or str(status)),
        "title": title,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    if extra:
        body.update(extra)
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _application_error_handler(request: Request[Any, Any, Any], exc: ApplicationError) -> Response[Any]:
    return problem_response(
        exc.status_code,
        exc.title,
        exc.detail_at(request.url.path),
        code=exc.code,
        instance=request.url.path,
        extra=exc.extra,
        headers=exc.headers,
    )


def _http_exception_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    extra: dict[str, Any] | None = None
    if isinstance(exc, ValidationException) and exc.extra:
        extra = {"errors": exc.extra}
    status = exc.status_code
    detail = exc.detail if status < 500 else None
    title = {
        400: "Bad request",
        401: "Authentication required",
        403: "Forbidden",
        404: "Not found",
        405: "Method not allowed",
        413: "Request body too large",
        429: "Too many requests",
    }.get(status, detail or "Error")
    return problem_response(
        status, title, detail, instance=request.url.path, extra=extra, headers=dict(exc.headers or {})
    )


DATABASE_RETRY_AFTER_SECONDS = 5


def _unexpected_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if is_database_unavailable(exc):  # refused, dropped, restarting: the client retries, it is no bug
        logger.warning(
            "database unavailable on %s %s (%s)", request.method, request.url.path, type(exc).__name__
        )
        return problem_response(
            HTTP_503_SERVICE_UNAVAILABLE,
            "The database is unavailable",
            "The service cannot reach its database right now; retry shortly.",
            code="database-unavailable",
            instance=request.url.path,
            headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
        )
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(
        HTTP_500_INTERNAL_SERVER_ERROR, "Internal server error", instance=request.url.path
    )


class Problem(msgspec.Struct, kw_only=True):
    """RFC 9457 problem details, as every error is answered (some carry more members, e.g. ``errors``)."""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None


_PROBLEM_DESCRIPTIONS = {
    400: "Malformed request: bad JSON, a missing or invalid parameter or header",
    401: "No valid bearer token",
    403: "The token's role may not do this",
    404: "Not found (or not the caller's)",
    409: "Conflicts with the current state (retry, or nothing to do)",
    413: "Request body too large",
    422: "Well-formed but refused (e.g. Idempotency-Key reused with another body, amount too large)",
    429: "Too many attempts; see Retry-After",
    502: "The payment service answered unexpectedly",
    503: "A service this request depends on (the database, payment_ms) is unavailable; see Retry-After",
    504: "A service this request depends on did not answer in time",
}


def problem_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI ``responses`` for the given error statuses, each an ``application/problem+json``."""
    return {
        status: ResponseSpec(
            data_container=Problem,
            description=_PROBLEM_DESCRIPTIONS.get(status, "Error"),
            media_type=PROBLEM_JSON,
            generate_examples=False,
        )
        for status in statuses
    }


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    ApplicationError: _application_error_handler,
    HTTPException: _http_exception_handler,
    Exception: _unexpected_error_handler,
}

__all__ = [
    "EXCEPTION_HANDLERS",
    "PROBLEM_JSON",
    "ApplicationError",
    "MediaType",
    "Problem",
    "problem_response",
    "problem_responses",
]
