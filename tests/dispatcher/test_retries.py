"""The retry schedule and ``Retry-After`` as pure functions: jitter comes from an injected generator."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from payment_ms.dispatcher.retries import parse_retry_after, retry_delay
from payment_ms.dispatcher.settings import DEFAULT_RETRY_SCHEDULE, DispatcherSettings

NOW = datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC)


class Fixed(random.Random):
    """``uniform(a, b)`` answers ``a + share * (b - a)``: the jitter is chosen by the test."""

    def __init__(self, share: float) -> None:
        super().__init__()
        self.share = share

    def uniform(self, a: float, b: float) -> float:
        return a + self.share * (b - a)


def test_the_default_schedule_is_the_designs() -> None:
    expected = [5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600]
    assert expected == DEFAULT_RETRY_SCHEDULE
    settings = DispatcherSettings(_env_file=None)  # type: ignore[call-arg]
    assert settings.retry_schedule_seconds == expected and settings.retry_jitter == 0.2


def test_each_failed_attempt_takes_its_step_then_the_delivery_gives_up() -> None:
    schedule = DEFAULT_RETRY_SCHEDULE
    delays = [retry_delay(n, schedule, jitter=0.0) for n in range(1, len(schedule) + 2)]
    assert delays == [*schedule, None]
    assert retry_delay(1, [], jitter=0.2) is None


@pytest.mark.parametrize(("share", "factor"), [(0.0, 0.8), (0.5, 1.0), (1.0, 1.2)])
def test_jitter_stays_within_its_fraction(share: float, factor: float) -> None:
    delay = retry_delay(2, DEFAULT_RETRY_SCHEDULE, jitter=0.2, rng=Fixed(share))
    assert delay == pytest.approx(300 * factor)


def test_jitter_spreads_delays_over_the_whole_band() -> None:
    rng = random.Random(7)
    delays = [retry_delay(1, [100.0], jitter=0.2, rng=rng) for _ in range(2000)]
    assert all(d is not None and 80.0 <= d <= 120.0 for d in delays)
    assert min(d for d in delays if d is not None) < 82 and max(d for d in delays if d is not None) > 118


def test_retry_after_postpones_but_never_hastens() -> None:
    schedule = [5.0, 300.0]
    assert retry_delay(1, schedule, jitter=0.0, retry_after=120.0) == 120.0
    assert retry_delay(2, schedule, jitter=0.0, retry_after=10.0) == 300.0
    # The last attempt failed: a Retry-After does not bring the delivery back.
    assert retry_delay(3, schedule, jitter=0.0, retry_after=10.0) is None


def test_retry_after_is_capped() -> None:
    assert retry_delay(1, [5.0], jitter=0.0, retry_after=10 * 86400.0) == 86400.0
    assert retry_delay(1, [5.0], jitter=0.0, retry_after=7200.0, max_retry_after=3600.0) == 3600.0
    # The cap limits the partner's wish, not the configured schedule.
    assert retry_delay(1, [5000.0], jitter=0.0, retry_after=7200.0, max_retry_after=60.0) == 5000.0


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 0 ", 0.0),
        (format_datetime(NOW + timedelta(seconds=90), usegmt=True), 90.0),
        ("Sun, 22 Nov 2026 10:05:00 GMT", 300.0),
        (format_datetime(NOW - timedelta(seconds=30), usegmt=True), 0.0),  # in the past: now
        (None, None),
        ("", None),
        ("-5", None),
        ("1.5", None),
        ("soon", None),
        ("Sun, 22 Nov 2026 10:05:00", None),  # a date without a zone is not an HTTP-date
    ],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, NOW.timestamp()) == seconds
