"""Fan-out: each new outbox event becomes one delivery per partner subscribed to its type.

An event whose partner list the gateway cannot give right now is postponed (backing off), not lost.
A disabled partner gets no new deliveries; an ordered partner's delivery waits (held) while an earlier
event of its payment is still pending for it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from uuid import UUID

from payment_ms.dispatcher import repositories as repo
from payment_ms.dispatcher.partners import GatewayUnavailableError, PartnerDirectory, Target

logger = logging.getLogger("paygate.dispatcher")


async def partner_lists(directory: PartnerDirectory, types: list[str]) -> dict[str, dict[UUID, Target]]:
    """The subscribers of each type the gateway could answer for (asked concurrently)."""
    answers = await asyncio.gather(*(directory.targets(t) for t in types), return_exceptions=True)
    lists = {}
    for event_type, answer in zip(types, answers, strict=True):
        if isinstance(answer, GatewayUnavailableError):
            logger.warning("partner list for %s unavailable: %s", event_type, answer)
        elif isinstance(answer, BaseException):
            raise answer
        else:
            lists[event_type] = answer
    return lists


def delivery_rows(
    events: list[Any], lists: dict[str, dict[UUID, Target]]
) -> tuple[list[tuple[UUID, UUID, str]], list[tuple[UUID, UUID, str, UUID, int]]]:
    """The deliveries to insert: (event, partner, url) rows, and those of ordered partners with the
    event's payment and sequence. A disabled partner gets none."""
    rows = []
    ordered_rows = []
    targets = [(event, t) for event in events for t in lists.get(event["type"], {}).values() if t.enabled]
    for event, target in targets:
        if target.ordered:
            ordered_rows.append((event["id"], target.id, target.url, event["payment_id"], event["sequence"]))
        else:
            rows.append((event["id"], target.id, target.url))
    return rows, ordered_rows


async def fan_out_once(
    conn: repo.Connection, directory: PartnerDirectory, *, batch_size: int, max_backoff: float
) -> bool:
    """Turn a batch of new events into deliveries. True when there may be more right away."""
    async with conn.transaction():
        events = await repo.claim_events(conn, batch_size)
        if not events:
            return False
        lists = await partner_lists(directory, sorted({event["type"] for event in events}))
        rows, ordered_rows = delivery_rows(events, lists)
        await repo.insert_deliveries(conn, rows)
        waiting = await repo.insert_ordered_deliveries(conn, ordered_rows)
        await repo.mark_fanned_out(conn, [e["id"] for e in events if e["type"] in lists])
        await repo.postpone_fan_out(conn, [e["id"] for e in events if e["type"] not in lists], max_backoff)
    await repo.release_if_unblocked(conn, waiting)  # after the commit: a predecessor finished meanwhile
    return len(events) == batch_size and bool(lists)
