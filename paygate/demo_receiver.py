"""A partner's webhook endpoint for demos and the README walkthrough: verifies and prints each event.

It does what a real partner does: check the Standard Webhooks signature against its secret over the
exact bytes received, reject stale timestamps, deduplicate on ``webhook-id``, answer 2xx quickly.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from shared.webhooks import WebhookVerificationError, verify

MAX_BODY_BYTES = 1_048_576


def describe_event(body: bytes) -> str:
    try:
        event = json.loads(body)
        data = event.get("data") or {}
        return (
            f"{event.get('type')} payment={data.get('id')} status={data.get('status')} "
            f"amount={data.get('amount')} {data.get('currency')}"
        )
    except (ValueError, AttributeError):
        return f"{len(body)} bytes (not a JSON event)"


class DemoReceiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], secret: str, output: Callable[[str], None] = print) -> None:
        super().__init__(address, _Handler)
        self.secret = secret
        self.output = output
        self.seen: set[str] = set()
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/webhooks"


class _Handler(BaseHTTPRequestHandler):
    server: DemoReceiver

    def do_GET(self) -> None:
        """``GET /health``: 200 once it serves (the dev runner waits for it)."""
        self._answer(HTTPStatus.OK if self.path == "/health" else HTTPStatus.NOT_FOUND)

    def do_POST(self) -> None:
        if self.path != "/webhooks":
            self._answer(HTTPStatus.NOT_FOUND)
            return
        length = int(self.headers.get("content-length") or 0)
        if length > MAX_BODY_BYTES:
            self._answer(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
            return
        body = self.rfile.read(length)
        headers = {key.lower(): value for key, value in self.headers.items()}
        msg_id = headers.get("webhook-id", "?")
        try:
            verify(self.server.secret, headers, body)
        except (WebhookVerificationError, ValueError) as exc:
            self.server.output(f"REJECTED {msg_id}: {exc}")
            self._answer(HTTPStatus.UNAUTHORIZED)
            return
        with self.server.lock:
            duplicate = msg_id in self.server.seen
            self.server.seen.add(msg_id)
        label = "duplicate" if duplicate else "verified"
        self.server.output(f"{label} {msg_id}: {describe_event(body)}")
        self._answer(HTTPStatus.NO_CONTENT)

    def _answer(self, status: HTTPStatus) -> None:
        self.send_response(status)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # the event lines say enough
        return
