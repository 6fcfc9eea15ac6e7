"""Who receives an event type, asked from the gateway (it owns the partner registry) and cached briefly.

The gateway's answer carries every secret that signs right now (the current one, then every retired one
inside its overlap); they are decoded once per fetch, not once per delivery. Disabled subscribers are
listed too (``enabled`` false): their deliveries are held, not sent, until they are enabled again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import aiohttp
import msgspec

from shared.contracts import OperationalEvent, OperationalEventList, PartnerTargetList
from shared.security import SERVICE_TOKEN_HEADER
from shared.webhooks import secret_key

logger = logging.getLogger("paygate.dispatcher.partners")


# The gateway lists itself under this id (contracts.md #4) at an operator-configured internal URL, so
# the partner URL policy (https, public addresses) does not apply to it.
GATEWAY_SUBSCRIBER_ID = UUID("00000000-0000-0000-0000-000000000001")


class GatewayUnavailableError(Exception):
    """The gateway did not answer usefully: the caller keeps the work and tries again later."""


@dataclass(frozen=True, slots=True)
class Target:
    id: UUID
    url: str
    keys: tuple[bytes, ...]
    payer_details: bool = False  # the partner is registered to receive the payer's email and name
    enabled: bool = True
    ordered: bool = False
    max_requests_per_second: int | None = None


class PartnerDirectory:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        gateway_url: str,
        service_token: str,
        *,
        ttl: float,
        timeout: float,
    ) -> None:
        self._session = session
        self._base = gateway_url.rstrip("/")
        self._headers = {SERVICE_TOKEN_HEADER: service_token}
        self._ttl = ttl
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._cache: dict[str, tuple[float, dict[UUID, Target]]] = {}
        self._pending: dict[str, asyncio.Future[dict[UUID, Target]]] = {}
        self._decoder = msgspec.json.Decoder(PartnerTargetList)

    def invalidate(self) -> None:
        self._cache.clear()

    async def targets(self, event_type: str) -> dict[UUID, Target]:
        """Partners subscribed to ``event_type`` by id; concurrent misses share one request."""
        cached = self._cache.get(event_type)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        pending = self._pending.get(event_type)
        if pending is None:
            pending = asyncio.ensure_future(self._fetch(event_type))
            self._pending[event_type] = pending
            pending.add_done_callback(lambda _: self._pending.pop(event_type, None))
        return await asyncio.shield(pending)

    async def _ask(self, method: str, path: str, ok: Callable[[int], bool], **kwargs: Any) -> bytes:
        """One request to the gateway; anything but an ``ok`` answer is ``GatewayUnavailableError``."""
        try:
            async with self._session.request(
                method, f"{self._base}{path}", headers=self._headers, timeout=self._timeout, **kwargs
            ) as response:
                body = await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise GatewayUnavailableError(f"{type(exc).__name__}: {exc}") from exc
        if not ok(response.status):
            raise GatewayUnavailableError(f"gateway answered {response.status}")
        return body

    async def _fetch(self, event_type: str) -> dict[UUID, Target]:
        body = await self._ask(
            "GET",
            "/internal/partners",
            lambda status: status == 200,
            params={"event_type": event_type, "include_disabled": "true"},
        )
        try:
            listing = self._decoder.decode(body)
        except msgspec.DecodeError as exc:
            raise GatewayUnavailableError(f"{type(exc).__name__}: {exc}") from exc
        targets: dict[UUID, Target] = {}
        for item in listing.items:
            keys = []
            for secret in item.secrets:
                try:
                    keys.append(secret_key(secret))
                except ValueError:
                    logger.warning("partner %s has a malformed secret; it is not used", item.id)
            if keys:
                targets[item.id] = Target(
                    item.id,
                    item.url,
                    tuple(keys),
                    payer_details=item.payer_details,
                    enabled=item.enabled,
                    ordered=item.ordered,
                    max_requests_per_second=item.max_requests_per_second,
                )
        self._cache[event_type] = (time.monotonic() + self._ttl, targets)
        return targets

    async def disable(self, partner_id: UUID, reason: str) -> None:
        """Ask the gateway to disable a partner's endpoint (410 Gone, or the health policy)."""
        try:
            path = f"/internal/partners/{partner_id}/disable"
            await self._ask("POST", path, lambda status: status < 300, json={"reason": reason})
        finally:
            self.invalidate()

    async def operational_events(self, limit: int = 100) -> list[OperationalEvent]:
        """The gateway's ``endpoint.*`` events not processed yet, oldest first."""
        body = await self._ask(
            "GET", "/internal/operational-events", lambda status: status == 200, params={"limit": str(limit)}
        )
        try:
            return msgspec.json.decode(body, type=OperationalEventList).items
        except msgspec.DecodeError as exc:
            raise GatewayUnavailableError(f"{type(exc).__name__}: {exc}") from exc

    async def operational_events_processed(self, ids: list[UUID]) -> None:
        path = "/internal/operational-events/processed"
        await self._ask("POST", path, lambda status: status < 300, json={"ids": [str(i) for i in ids]})
