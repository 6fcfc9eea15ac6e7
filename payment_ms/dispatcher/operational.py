"""Operational events: ``endpoint.disabled``, ``endpoint.enabled``, ``endpoint.secret_rotated``.

The gateway writes them in the same transaction as the change (its outbox); every dispatcher polls them
(``operational_poll_seconds``), and for each one: logs it, counts it, acts on it (a disabled partner's
pending deliveries are held, an enabled one's held deliveries are due again, a rotation refreshes the
partner cache) and, when ``operator_webhook_url`` is set, POSTs it signed with
``operator_webhook_secret`` (Standard Webhooks, ``webhook-id`` = the event id: with several dispatchers
the operator may get an event twice and deduplicates on it). A send that fails is tried again at the next
poll, up to ``MAX_SEND_ATTEMPTS`` times; then the event is given up on (logged).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from uuid import UUID

import aiohttp
import asyncpg
import msgspec

from payment_ms.dispatcher import metrics
from payment_ms.dispatcher import repositories as repo
from payment_ms.dispatcher.partners import GatewayUnavailableError, PartnerDirectory, Target
from payment_ms.dispatcher.sender import Claimed, FixedBody, send
from payment_ms.dispatcher.settings import DispatcherSettings
from shared.contracts import OperationalEvent
from shared.webhooks import secret_key

logger = logging.getLogger("paygate.dispatcher.operational")

MAX_SEND_ATTEMPTS = 20
OPERATOR_ID = UUID(int=0)


def operational_body(event: OperationalEvent) -> bytes:
    return msgspec.json.encode({"type": event.type, "timestamp": event.created_at, "data": event.data})


@dataclass
class OperationalEvents:
    """This dispatcher's poll of the gateway's operational outbox: each event is acted on once per
    process (``_acted``) and sent until the operator endpoint takes it (``_attempts``)."""

    settings: DispatcherSettings
    directory: PartnerDirectory
    session: aiohttp.ClientSession
    pool: asyncpg.Pool
    _acted: set[UUID] = field(default_factory=set, init=False)  # side effects done (sending may be retried)
    _attempts: dict[UUID, int] = field(default_factory=dict, init=False)
    _operator: Target | None = field(init=False)

    def __post_init__(self) -> None:
        url = self.settings.operator_webhook_url
        secret = self.settings.operator_webhook_secret.get_secret_value()
        self._operator = Target(OPERATOR_ID, url, (secret_key(secret),)) if url else None

    async def run(self, stopped: asyncio.Event) -> None:
        while not stopped.is_set():
            try:
                await self.process_once()
            except GatewayUnavailableError as exc:
                logger.warning("operational events unavailable: %s", exc)
            except (asyncpg.PostgresError, OSError) as exc:
                logger.warning("operational events: database error: %s", exc)
            except Exception:
                logger.exception("unexpected error processing operational events")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopped.wait(), self.settings.operational_poll_seconds)

    async def process_once(self) -> int:
        """Process what the gateway has; how many events were marked processed."""
        events = await self.directory.operational_events()
        done = []
        for event in events:
            if event.id not in self._acted:
                await self._act(event)
                self._acted.add(event.id)
            if await self._deliver(event):
                done.append(event.id)
        if done:
            await self.directory.operational_events_processed(done)
            for event_id in done:
                self._acted.discard(event_id)
                self._attempts.pop(event_id, None)
        return len(done)

    async def _act(self, event: OperationalEvent) -> None:
        level = logging.WARNING if event.type == "endpoint.disabled" else logging.INFO
        logger.log(
            level,
            "%s: partner %s (%s) %s",
            event.type,
            event.data.get("name", ""),
            event.partner_id,
            event.data.get("reason", ""),
            extra={"event_type": event.type, "partner_id": str(event.partner_id), "event_id": str(event.id)},
        )
        async with self.pool.acquire() as conn:
            if event.type == "endpoint.enabled":
                resumed = await repo.resume_partner(conn, event.partner_id)
                logger.info("partner %s enabled: %d waiting deliveries resumed", event.partner_id, resumed)
            elif event.type == "endpoint.disabled":
                await repo.hold_partner(conn, event.partner_id)
        self.directory.invalidate()  # the partner's state or secrets changed: ask again

    async def _deliver(self, event: OperationalEvent) -> bool:
        """True when the event is done with: sent, or nowhere to send it, or given up on."""
        if self._operator is None:
            metrics.OPERATIONAL_EVENTS.labels(event.type, "logged").inc()
            return True
        claimed = Claimed(
            id=event.id,
            event_id=event.id,
            partner_id=OPERATOR_ID,
            event_type=event.type,
            msg_id=str(event.id),
            event=FixedBody(operational_body(event)),
            attempt_number=self._attempts.get(event.id, 0) + 1,
            lease_deadline=time.monotonic() + self.settings.request_timeout_seconds,
        )
        timeout = aiohttp.ClientTimeout(total=self.settings.request_timeout_seconds)
        result = await send(self.session, None, claimed, self._operator, timeout)
        if result.status_code is not None and 200 <= result.status_code < 300:
            metrics.OPERATIONAL_EVENTS.labels(event.type, "sent").inc()
            return True
        self._attempts[event.id] = claimed.attempt_number
        answer = result.status_code if result.status_code is not None else result.error
        if claimed.attempt_number >= MAX_SEND_ATTEMPTS:
            metrics.OPERATIONAL_EVENTS.labels(event.type, "given_up").inc()
            logger.error("gave up sending %s %s to the operator endpoint: %s", event.type, event.id, answer)
            return True
        logger.warning(
            "could not send %s %s to the operator endpoint (%s); retrying", event.type, event.id, answer
        )
        return False
