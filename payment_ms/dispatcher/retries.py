"""When a failed attempt is tried again: the configured schedule with jitter, or later if the partner
asked for it with ``Retry-After``."""

from __future__ import annotations

import random
from collections.abc import Sequence
from email.utils import parsedate_to_datetime


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    return max(0.0, moment.timestamp() - now)


def retry_delay(
    attempt_number: int,
    schedule: Sequence[float],
    *,
    jitter: float,
    retry_after: float | None = None,
    max_retry_after: float = 86400.0,
    rng: random.Random | None = None,
) -> float | None:
    """Delay before the next attempt after attempt ``attempt_number`` (1-based) failed; None = give up."""
    index = attempt_number - 1
    if index >= len(schedule):
        return None
    base = schedule[index]
    delay = base * (rng or random).uniform(1 - jitter, 1 + jitter) if jitter else base
    if retry_after is not None:
        delay = max(delay, min(retry_after, max_retry_after))
    return delay
