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
from payment_ms.dispatcher.sender import Claimed, envelope, send
from payment_ms.dispatcher.settings import DispatcherSettings
from payment_ms.dispatcher.ssrf import GuardedResolver, UrlPolicy
from shared.contracts import EventType, Payment, PaymentStatus, SendTestEventResult
from shared.webhooks import secret_key

# The payment status each example event shows (the payment as it is after that change).
_STATUS: dict[str, PaymentStatus] = {
    "payment.created": "pending",
    "payment.processing": "processing",
    "payment.authorized": "authorized",
    "payment.captured": "succeeded",
    "payment.succeeded": "succeeded",
    "payment.failed": "failed",
    "payment.canceled": "canceled",
    "payment.refunded": "refunded",
}


def example_payment(event_type: EventType, now: datetime) -> Payment:
    """A made-up payment in the state ``event_type`` leaves it in (ids are random, nothing exists)."""
    status = _STATUS.get(event_type, "succeeded")
    captured = 2500 if status in ("succeeded", "refunded") else 0
    return Payment(
        id=uuid.uuid4(),
        reservation_id=uuid.uuid4(),
        user_id=uuid.uuid4(),
        amount=2500,
        currency="EUR",
        status=status,
        provider="mock",
        capture_method="manual" if event_type in ("payment.authorized", "payment.captured") else "automatic",
        captured_amount=captured,
        refunded_amount=captured if status == "refunded" else 0,
        description="paygate test event",
        checkout_url=None,
        return_url=None,
        cancel_url=None,
        payer_email=None,
        payer_name=None,
        metadata={"paygate_test": True},
        failure_reason="card_declined" if status == "failed" else None,
        confirmed_by=None,
        confirmed_at=None,
        created_at=now,
        updated_at=now,
    )


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
    data = msgspec.json.encode(example_payment(event_type, now)).decode()
    body = envelope(event_type, now, data)
    target = Target(uuid.UUID(int=0), url, tuple(secret_key(s) for s in secrets))
    claimed = Claimed(
        id=uuid.uuid4(),
        event_id=uuid.uuid4(),
        partner_id=target.id,
        event_type=event_type,
        msg_id=msg_id,
        body=body,
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
