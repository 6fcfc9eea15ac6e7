"""The dispatcher's backlog accounting and per-partner allowances, without a database or a network:
what a process may claim next, what goes on the wire, what is handed back."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from payment_ms.dispatcher.backlog import (
    MAX_FAILING_TRACKED,
    Backlog,
    backlog_limit,
    failing_backlog_limit,
)
from payment_ms.dispatcher.sender import Claimed, EventBody
from payment_ms.dispatcher.settings import LEASE_MARGIN_SECONDS, DispatcherSettings

NOW = 1000.0
A = uuid.UUID(int=1)
B = uuid.UUID(int=2)


@pytest.fixture
def clean_database() -> None:
    """These tests use no database: the suite's per-test truncation is not needed (nor started)."""


def settings(**values: Any) -> DispatcherSettings:
    return DispatcherSettings(_env_file=None, **values)  # type: ignore[call-arg]


def backlog(**values: Any) -> Backlog:
    defaults: dict[str, Any] = {
        "max_in_flight": 100,
        "batch_size": 10,
        "per_partner_concurrency": 2,
        "backlog_limit": 10,
        "failing_backlog_limit": 4,
        "lease_needed": 6.0,
    }
    return Backlog(**{**defaults, **values})


def claimed(partner: uuid.UUID, lease_left: float = 60.0) -> Claimed:
    event = uuid.uuid4()
    return Claimed(
        id=uuid.uuid4(),
        event_id=event,
        partner_id=partner,
        event_type="payment.succeeded",
        msg_id=str(event),
        event=EventBody("payment.succeeded", datetime.now(UTC), 1, "{}"),
        attempt_number=1,
        lease_deadline=NOW + lease_left,
    )


def hold(b: Backlog, partner: uuid.UUID, count: int, lease_left: float = 60.0) -> list[Claimed]:
    items = [claimed(partner, lease_left) for _ in range(count)]
    for item in items:
        b.add(item)
    return items


def test_the_limits_follow_the_settings() -> None:
    # A fast partner is claimed a whole batch at a time; the backlog never drops below two rounds.
    assert backlog_limit(settings(per_partner_concurrency=16, batch_size=200)) == 200
    assert backlog_limit(settings(per_partner_concurrency=16, batch_size=8)) == 32
    assert failing_backlog_limit(settings(per_partner_concurrency=16, batch_size=200)) == 32
    b = Backlog.from_settings(settings(per_partner_concurrency=3, batch_size=50, request_timeout_seconds=4.0))
    assert (b.backlog_limit, b.failing_backlog_limit) == (50, 6)
    assert b.lease_needed == 4.0 + LEASE_MARGIN_SECONDS


def test_an_empty_backlog_claims_a_batch_with_the_default_allowance() -> None:
    request = backlog().claim_request()
    assert request is not None
    assert (request.limit, request.excluded, request.allowances) == (10, [], {})
    assert request.default_allowance == 10


def test_a_claim_never_exceeds_what_the_process_may_still_hold() -> None:
    b = backlog(max_in_flight=12)
    hold(b, A, 9)
    request = b.claim_request()
    assert request is not None and request.limit == 3
    hold(b, B, 3)
    assert b.held_total == 12
    assert b.claim_request() is None


def test_each_known_partner_gets_what_is_left_of_its_allowance() -> None:
    b = backlog()
    hold(b, A, 10)
    hold(b, B, 3)
    assert b.room() == {A: 0, B: 7}
    assert b.saturated() == [A]
    request = b.claim_request()
    assert request is not None
    assert request.excluded == [A]
    assert request.allowances == {B: 7}


def test_a_partner_whose_last_attempt_failed_keeps_two_rounds() -> None:
    b = backlog()  # two on the wire, four held at most while failing, ten otherwise
    hold(b, A, 3)
    b.note_attempt(A, succeeded=False)
    assert b.limit_for(A) == 4
    assert b.room() == {A: 1}
    hold(b, A, 1)
    assert b.saturated() == [A]
    b.note_attempt(A, succeeded=True)
    assert b.limit_for(A) == 10
    assert b.room() == {A: 6}


def test_a_failing_partner_with_nothing_held_is_still_bounded() -> None:
    b = backlog()
    b.note_attempt(B, succeeded=False)
    request = b.claim_request()
    assert request is not None
    assert request.allowances == {B: 4}
    assert request.excluded == []


def test_the_failing_set_is_bounded() -> None:
    b = backlog()
    for i in range(MAX_FAILING_TRACKED + 5):
        b.note_attempt(uuid.UUID(int=10 + i), succeeded=False)
    assert len(b.failing) == MAX_FAILING_TRACKED


def test_take_sends_up_to_the_wire_concurrency_and_keeps_the_rest_waiting() -> None:
    b = backlog()
    items = hold(b, A, 5)
    taken = b.take(A, now=NOW)
    assert taken.send == items[:2] and taken.release == []
    assert b.take(A, now=NOW).send == []  # both wire slots busy
    b.sent(A)
    assert b.take(A, now=NOW).send == [items[2]]
    assert b.held[A] == 5  # sent or waiting, all still held until they have an outcome
    assert b.partners_waiting() == [A]


def test_a_delivery_whose_lease_would_run_out_mid_request_is_handed_back() -> None:
    b = backlog()
    short, long = claimed(A, lease_left=5.9), claimed(A, lease_left=6.0)
    b.add(short)
    b.add(long)
    assert not b.lease_lasts(short, NOW) and b.lease_lasts(long, NOW)
    taken = b.take(A, now=NOW)
    assert taken.release == [short] and taken.send == [long]
    assert b.partners_waiting() == []


def test_stopping_hands_back_everything_waiting_even_with_the_wire_full() -> None:
    b = backlog()
    items = hold(b, A, 4)
    b.take(A, now=NOW)
    taken = b.take(A, now=NOW, stopping=True)
    assert taken.send == [] and taken.release == items[2:]


def test_finishing_frees_the_allowance_and_forgets_the_partner() -> None:
    b = backlog()
    hold(b, A, 2)
    hold(b, B, 1)
    b.take(A, now=NOW)
    for _ in range(2):
        b.sent(A)
        b.finish(A)
    assert A not in b.held and b.held_total == 1
    assert b.room() == {B: 9}


@pytest.mark.parametrize("succeeded", [True, False])
def test_only_a_success_clears_the_failing_mark(succeeded: bool) -> None:
    b = backlog()
    b.note_attempt(A, succeeded=False)
    b.note_attempt(A, succeeded=succeeded)
    assert (A in b.failing) is not succeeded
