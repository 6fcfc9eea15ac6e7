"""What one dispatcher process holds, per partner: pure bookkeeping, no database, no tasks.

One process holds up to ``max_in_flight`` deliveries, at most ``backlog_limit(settings)`` of one partner
(``per_partner_concurrency`` of them on the wire), so a partner that hangs only ever occupies its own
slots. The backlog is decoupled from the wire concurrency: a fast partner is claimed a full batch at a
time; a partner whose last attempt failed keeps two rounds (``failing_backlog_limit``). A delivery is
sent only while enough of its lease is left for the request to finish; otherwise it is handed back.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from uuid import UUID

from payment_ms.dispatcher.settings import LEASE_MARGIN_SECONDS

if TYPE_CHECKING:
    from payment_ms.dispatcher.sender import Claimed
    from payment_ms.dispatcher.settings import DispatcherSettings

# Partners remembered as failing at most (a bound on memory, whatever the partner count).
MAX_FAILING_TRACKED = 10_000


def backlog_limit(settings: DispatcherSettings) -> int:
    """Deliveries of one partner this process holds at most (on the wire or waiting their turn)."""
    return max(2 * settings.per_partner_concurrency, settings.batch_size)


def failing_backlog_limit(settings: DispatcherSettings) -> int:
    """The same for a partner whose last attempt failed: a hanging partner's waiting deliveries would
    only hold their leases (and be handed back and claimed again), so it keeps two rounds at most."""
    return 2 * settings.per_partner_concurrency


@dataclass(frozen=True, slots=True)
class ClaimRequest:
    """What the next claim may take: ``limit`` rows, none of ``excluded``, at most ``allowances[p]`` of a
    partner this process knows of and ``default_allowance`` of any other."""

    limit: int
    excluded: list[UUID]
    allowances: dict[UUID, int]
    default_allowance: int


@dataclass(frozen=True, slots=True)
class Taken:
    """What leaves a partner's queue: ``send`` goes on the wire, ``release`` is handed back."""

    send: list[Claimed]
    release: list[Claimed]


@dataclass(kw_only=True)
class Backlog:
    max_in_flight: int
    batch_size: int
    per_partner_concurrency: int
    backlog_limit: int
    failing_backlog_limit: int
    lease_needed: float  # seconds of lease a request needs (its timeout and a margin)
    failing: set[UUID] = field(default_factory=set)  # partners whose last attempt did not succeed
    held: dict[UUID, int] = field(default_factory=lambda: defaultdict(int))
    held_total: int = 0
    _queues: dict[UUID, deque[Claimed]] = field(default_factory=lambda: defaultdict(deque))
    _active: dict[UUID, int] = field(default_factory=lambda: defaultdict(int))  # requests on the wire
    # partners that answered 429: left alone until (monotonic)
    _paused: dict[UUID, float] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: DispatcherSettings) -> Backlog:
        return cls(
            max_in_flight=settings.max_in_flight,
            batch_size=settings.batch_size,
            per_partner_concurrency=settings.per_partner_concurrency,
            backlog_limit=backlog_limit(settings),
            failing_backlog_limit=failing_backlog_limit(settings),
            lease_needed=settings.request_timeout_seconds + LEASE_MARGIN_SECONDS,
        )

    # -------------------------------------------------------------------------------- allowances

    def limit_for(self, partner: UUID) -> int:
        return self.failing_backlog_limit if partner in self.failing else self.backlog_limit

    def room(self, now: float | None = None) -> dict[UUID, int]:
        """How many more deliveries each partner this process knows of may have claimed (0: none; a
        partner backing off after a 429 has none)."""
        known = set(self.held) | self.failing
        room = {p: max(0, self.limit_for(p) - self.held.get(p, 0)) for p in known}
        current = time.monotonic() if now is None else now
        for partner in list(self._paused):
            if self.paused_for(partner, current) > 0:
                room[partner] = 0
        return room

    def pause(self, partner: UUID, until: float) -> None:
        """Send nothing more to ``partner`` before ``until`` (monotonic): it answered 429."""
        self._paused[partner] = max(until, self._paused.get(partner, 0.0))

    def paused_for(self, partner: UUID, now: float) -> float:
        """Seconds ``partner`` is still backing off (0: not)."""
        until = self._paused.get(partner)
        if until is None:
            return 0.0
        if until <= now:
            del self._paused[partner]
            return 0.0
        return until - now

    def saturated(self) -> list[UUID]:
        return [partner for partner, room in self.room().items() if room == 0]

    def claim_request(self) -> ClaimRequest | None:
        """The next claim's bounds, or None when this process may hold no more."""
        limit = min(self.batch_size, self.max_in_flight - self.held_total)
        if limit <= 0:
            return None
        room = self.room()
        return ClaimRequest(
            limit=limit,
            excluded=[p for p, left in room.items() if left == 0],
            allowances={p: left for p, left in room.items() if left > 0},
            default_allowance=self.backlog_limit,
        )

    # ---------------------------------------------------------------------------------- holding

    def add(self, claimed: Claimed) -> None:
        self._queues[claimed.partner_id].append(claimed)
        self.held[claimed.partner_id] += 1
        self.held_total += 1

    def partners_waiting(self) -> list[UUID]:
        return list(self._queues)

    def lease_lasts(self, claimed: Claimed, now: float) -> bool:
        """Enough of the lease is left at ``now`` (monotonic) for a whole request and a margin."""
        return claimed.lease_deadline - now >= self.lease_needed

    def take(self, partner: UUID, *, now: float, stopping: bool = False) -> Taken:
        """Move a partner's waiting deliveries on while it has free wire slots (every one when stopping):
        those whose lease still lasts go on the wire (counted active), the others are handed back."""
        send: list[Claimed] = []
        release: list[Claimed] = []
        queue = self._queues.get(partner)
        paused = self.paused_for(partner, now) > 0
        while queue and (stopping or paused or self._active[partner] < self.per_partner_concurrency):
            claimed = queue.popleft()
            if stopping or paused or not self.lease_lasts(claimed, now):
                release.append(claimed)
                continue
            self._active[partner] += 1
            send.append(claimed)
        if queue is not None and not queue:
            del self._queues[partner]
        return Taken(send, release)

    def sent(self, partner: UUID) -> None:
        """A request to ``partner`` ended: its wire slot is free."""
        self._active[partner] -= 1

    def finish(self, partner: UUID) -> None:
        """A delivery of ``partner`` has an outcome: it is no longer held."""
        self.held[partner] -= 1
        if self.held[partner] <= 0:
            del self.held[partner]
        self.held_total -= 1

    def note_attempt(self, partner: UUID, *, succeeded: bool) -> None:
        """Remember whether the partner's last attempt succeeded (a failing partner keeps two rounds)."""
        if succeeded:
            self.failing.discard(partner)
        elif len(self.failing) < MAX_FAILING_TRACKED:
            self.failing.add(partner)
