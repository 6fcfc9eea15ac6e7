"""One HTTP attempt: sign the body, POST it, read at most 2 KB of the answer, never follow redirects."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

import aiohttp
from yarl import URL

from payment_ms.dispatcher.partners import Target
from payment_ms.dispatcher.ssrf import BlockedDestinationError, UrlPolicy
from shared.events import public_body
from shared.security import REQUEST_ID_HEADER
from shared.webhooks import signature_header

EXCERPT_BYTES = 2048
MAX_ERROR = 1000
USER_AGENT = "paygate-webhooks/1"


@dataclass(slots=True)
class Claimed:
    """A delivery this worker holds until ``lease_deadline`` (``time.monotonic()``)."""

    id: UUID
    event_id: UUID
    partner_id: UUID
    event_type: str
    msg_id: str
    event: EventBody | FixedBody
    attempt_number: int
    lease_deadline: float
    request_id: str | None = None  # of the request that caused the event (gateway -> payment_ms)
    throttled_count: int = 0  # earlier attempts answered 429: they do not use up the retry schedule


@dataclass(slots=True)
class AttemptResult:
    claimed: Claimed
    url: str
    started_at: datetime
    duration_ms: int
    status_code: int | None = None
    excerpt: str | None = None
    error: str | None = None
    retry_after: str | None = None


@dataclass(slots=True)
class EventBody:
    """One event's webhook bodies, shared by the deliveries of a batch and serialised at most once each:
    the public shape (``shared.events``), with or without the payer's details."""

    event_type: str
    created_at: datetime
    sequence: int  # the payment's 1, 2, 3… (the envelope's ``sequence``)
    data_json: str
    _bodies: dict[bool, bytes] = field(default_factory=dict)

    def for_target(self, target: Target) -> bytes:
        body = self._bodies.get(target.payer_details)
        if body is None:
            body = self._bodies[target.payer_details] = public_body(
                self.event_type,
                self.created_at,
                self.data_json,
                payer_details=target.payer_details,
                sequence=self.sequence,
            )
        return body


@dataclass(frozen=True, slots=True)
class FixedBody:
    """A body that is the same for every target (the operator's ``endpoint.*`` events)."""

    body: bytes

    def for_target(self, target: Target) -> bytes:
        return self.body


def signed_headers(target: Target, msg_id: str, body: bytes, now: float | None = None) -> dict[str, str]:
    timestamp = int(time.time() if now is None else now)
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(list(target.keys), msg_id, timestamp, body),
    }


async def _read_excerpt(response: aiohttp.ClientResponse) -> str:
    chunks = bytearray()
    while len(chunks) < EXCERPT_BYTES:
        chunk = await response.content.read(EXCERPT_BYTES - len(chunks))
        if not chunk:
            break
        chunks += chunk
    return bytes(chunks).decode("utf-8", "replace").replace("\x00", "")[:EXCERPT_BYTES]


async def send(
    session: aiohttp.ClientSession,
    policy: UrlPolicy | None,
    claimed: Claimed,
    target: Target,
    client_timeout: aiohttp.ClientTimeout,
    *,
    forward_request_id: bool = False,
) -> AttemptResult:
    """``forward_request_id``: send the event's request id as ``X-Request-ID`` (to our own gateway only)."""
    started_at = datetime.now(UTC)
    started = time.perf_counter()
    result = AttemptResult(claimed, target.url, started_at, 0)
    try:
        url = URL(target.url)
        if policy is not None:
            policy.check_url(url)
        body = claimed.event.for_target(target)
        headers = signed_headers(target, claimed.msg_id, body)
        if forward_request_id and claimed.request_id:
            headers[REQUEST_ID_HEADER] = claimed.request_id
        async with session.post(
            url, data=body, headers=headers, allow_redirects=False, timeout=client_timeout
        ) as response:
            result.status_code = response.status
            result.retry_after = response.headers.get("Retry-After")
            result.excerpt = await _read_excerpt(response)
    except BlockedDestinationError as exc:
        result.error = f"blocked: {exc}"
    except TimeoutError:
        result.error = "timeout"
    except aiohttp.ClientConnectorError as exc:
        # The guarded resolver refused every address: aiohttp wraps the refusal and drops its message.
        if isinstance(exc.os_error, BlockedDestinationError):
            result.error = f"blocked: {exc.os_error}"
        else:
            result.error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR]
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        result.error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR]
    result.duration_ms = max(0, int((time.perf_counter() - started) * 1000))
    return result
