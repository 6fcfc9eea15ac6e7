"""Test sends: a signed example event sent to an endpoint now, answered with the one attempt.

Nothing is stored and no delivery is created: the partner checks its endpoint (URL, TLS, signature
verification) before real events flow. The request goes out exactly like a delivery: same signing,
same URL policy and guarded resolver (no internal addresses), same timeout, no redirects followed.
``webhook-id`` is ``test_<random>`` so a receiver can tell a test from a real event.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import aiohttp
import msgspec

from payment_ms.dispatcher.partners import Target
from payment_ms.dispatcher.sender import Claimed, EventBody, send
from payment_ms.dispatcher.settings import DispatcherSettings
from payment_ms.dispatcher.ssrf import GuardedResolver, UrlPolicy
from shared.contracts import EventType, SendTestEventResult
from shared.events import CATALOG
from shared.webhooks import secret_key


def example_data(event_type: EventType, now: datetime) -> str:
    """The catalog's example of ``event_type`` (``shared.events``), made up afresh: random ids, now."""
    data = {
        **CATALOG[event_type].example,
        "id": str(uuid.uuid4()),
        "reservation_id": str(uuid.uuid4()),
        "user_id": str(uuid.uuid4()),
        "description": "paygate test event",
        "created_at": now.isoformat(),
        "updated_at": now.isoformat(),
    }
    return msgspec.json.encode(data).decode()


async def send_test_event(
    url: str,
    secrets: list[str],
    event_type: EventType,
    *,
    settings: DispatcherSettings,
    allow_loopback: bool,
) -> SendTestEventResult:
    """Sign an example ``event_type`` with every one of ``secrets`` and POST it to ``url`` now."""
    now = datetime.now(UTC)
    msg_id = f"test_{uuid.uuid4().hex}"
    body = EventBody(event_type, now, 1, example_data(event_type, now))
    target = Target(uuid.UUID(int=0), url, tuple(secret_key(s) for s in secrets))
    claimed = Claimed(
        id=uuid.uuid4(),
        event_id=uuid.uuid4(),
        partner_id=target.id,
        event_type=event_type,
        msg_id=msg_id,
        event=body,
        attempt_number=1,
        lease_deadline=time.monotonic() + settings.request_timeout_seconds,
    )
    policy = UrlPolicy(settings.allowed_hosts, allow_loopback=allow_loopback)
    connector = aiohttp.TCPConnector(limit=1, resolver=GuardedResolver(policy))
    timeout = aiohttp.ClientTimeout(total=settings.request_timeout_seconds)
    async with aiohttp.ClientSession(
        connector=connector, auto_decompress=False, skip_auto_headers=("Accept-Encoding",)
    ) as session:
        result = await send(session, policy, claimed, target, timeout)
    code = result.status_code
    delivered = code is not None and 200 <= code < 300
    error = result.error if result.error or delivered or code is None else f"HTTP {code}"
    return SendTestEventResult(
        webhook_id=msg_id,
        type=event_type,
        url=url,
        delivered=delivered,
        status_code=code,
        duration_ms=result.duration_ms,
        response_excerpt=result.excerpt,
        error=error,
    )
