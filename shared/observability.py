"""Request ids and logs, the same in every process.

- ``RequestIdMiddleware`` takes ``X-Request-ID`` from the caller (when well-formed) or makes one, keeps
  it in a context variable for the logs and for outgoing calls, and echoes it on the response.
- ``configure_logging``: JSON lines outside dev, readable lines in dev; every record carries the
  request id of the request it was logged in.
- ``redact``: whatever a log line says, what looks like a credential (bearer tokens, JWTs, webhook
  secrets and signatures, Stripe keys, the service token) is masked before it is written.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from shared.security import REQUEST_ID_HEADER

if TYPE_CHECKING:
    from shared.settings import PaygateSettings

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

_HEADER = REQUEST_ID_HEADER.lower().encode()
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
access_logger = logging.getLogger("paygate.access")


def current_request_id() -> str | None:
    return request_id_var.get()


def new_request_id() -> str:
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Pure ASGI (no per-request objects beyond what it needs): it sits on the checkout hot path.

    It wraps the whole application (``create_service_app``), not only the routes, so an unknown path,
    a 405 or a CORS preflight gets its request id and access line too. The access line's ``client`` is
    the scope's, which ``ClientAddressMiddleware`` (outside this one) made proxy-aware."""

    def __init__(self, app: ASGIApp, *, log_requests: bool = True) -> None:
        self.app = app
        self.log_requests = log_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope.get("method", ""), scope["path"]
        request_id = None
        for name, value in scope["headers"]:
            if name == _HEADER:
                candidate = value.decode("latin-1")
                if _VALID_REQUEST_ID.match(candidate):
                    request_id = candidate
                break
        request_id = request_id or new_request_id()
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        encoded = request_id.encode()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (_HEADER, encoded)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if self.log_requests and access_logger.isEnabledFor(logging.INFO):
                duration_ms = (time.perf_counter() - started) * 1000
                peer = scope.get("client")
                client = peer[0] if peer else "-"
                access_logger.info(
                    "%s %s %s %.1fms %s",
                    method,
                    path,
                    status,
                    duration_ms,
                    client,
                    extra={
                        "method": method,
                        "path": path,
                        "status": status,
                        "duration_ms": round(duration_ms, 2),
                        "client": client,
                    },
                )
            request_id_var.reset(token)


_SECRET_PATTERNS = (
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 [redacted]"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), "[redacted-jwt]"),
    (re.compile(r"\bwhsec_[A-Za-z0-9+/=]+"), "whsec_[redacted]"),
    (re.compile(r"\bv1,[A-Za-z0-9+/=]{16,}"), "v1,[redacted]"),
    (re.compile(r"\b((?:sk|rk|pk)_(?:live|test)_)[A-Za-z0-9]+"), r"\1[redacted]"),
)
_exact_secrets: tuple[str, ...] = ()


def redact(text: str) -> str:
    for secret in _exact_secrets:
        text = text.replace(secret, "[redacted]")
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


_STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id", "service"}


class _ContextFilter(logging.Filter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get() or "-"
        record.service = self.service
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": getattr(record, "service", None),
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return redact(json.dumps(entry, default=str))


class ReadableFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(
            "%(asctime)s %(levelname)-5s %(service)s [%(request_id)s] %(name)s: %(message)s", "%H:%M:%S"
        )

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure_logging(service: str, settings: PaygateSettings) -> None:
    """The service token is written nowhere, beside what the patterns catch."""
    global _exact_secrets
    service_token = settings.service_token.get_secret_value()
    _exact_secrets = (service_token,) if len(service_token) >= 8 else ()
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_ContextFilter(service))
    handler.setFormatter(JsonFormatter() if settings.json_logs else ReadableFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
