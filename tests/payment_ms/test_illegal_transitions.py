"""Every command the state machine forbids, from every state: 409 problem+json and nothing written.

States are reached through the real API and the mock hosted page where they can be; ``processing``
(no mock or cash flow settles later) and a failed cash payment are set on the real database with the
repository function every state change uses. Also: two different commands racing on one payment.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from payment_ms.payments import repositories as repo
from tests.payment_ms.conftest import choose_on_mock_page, count_rows, create_payment, event_types

PROBLEM = "application/problem+json"
STATES = (
    "pending",
    "processing",
    "authorized",
    "succeeded",
    "partially_refunded",
    "refunded",
    "failed",
    "canceled",
)
COMMANDS: dict[str, tuple[str, dict[str, Any] | None]] = {
    "cancel": ("cancel", None),
    "capture": ("capture", None),
    "refund": ("refunds", {"amount": 100}),
    "confirm-cash": ("confirm-cash", {"confirmed_by": "clerk-7"}),
}
# (command, state) pairs the machine allows; everything else must be refused.
LEGAL = {
    ("cancel", "pending"),
    ("cancel", "processing"),
    ("cancel", "authorized"),
    ("capture", "authorized"),
    ("refund", "succeeded"),
    ("refund", "partially_refunded"),
    ("confirm-cash", "pending"),
    ("confirm-cash", "processing"),
}
ILLEGAL = [
    (command, state)
    for command in COMMANDS
    for state in STATES
    # a cash payment is never manual-capture, so it is never authorized
    if (command, state) not in LEGAL and not (command == "confirm-cash" and state == "authorized")
]


async def _force_status(db_engine: AsyncEngine, payment_id: str, status: str) -> None:
    async with db_engine.begin() as conn:
        await repo.update_payment(conn, uuid.UUID(payment_id), {"status": status})


async def _post(api: httpx.AsyncClient, payment_id: str, command: str) -> httpx.Response:
    path, body = COMMANDS[command]
    return await api.post(f"/api/payments/{payment_id}/{path}", json=body)


async def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


async def payment_in(api: httpx.AsyncClient, db_engine: AsyncEngine, state: str, provider: str) -> str:
    """A payment of ``provider`` (mock or cash) in ``state``, reached the way a real one gets there."""
    manual = state == "authorized"
    payment = await create_payment(
        api, amount=1000, provider=provider, capture_method="manual" if manual else "automatic"
    )
    pid: str = payment["id"]
    if state == "pending":
        pass
    elif state == "processing":
        await _force_status(db_engine, pid, "processing")
    elif state == "canceled":
        await _ok(await api.post(f"/api/payments/{pid}/cancel"))
    elif state == "failed" and provider == "cash":
        await _force_status(db_engine, pid, "failed")
    elif state == "failed":
        await choose_on_mock_page(api, payment, "decline")
        await _ok(await api.post(f"/api/payments/{pid}/verify"))
    else:  # authorized, succeeded and the refunded states
        if provider == "cash":
            await _ok(await api.post(f"/api/payments/{pid}/confirm-cash", json={"confirmed_by": "clerk-1"}))
        else:
            await choose_on_mock_page(api, payment, "approve")
            await _ok(await api.post(f"/api/payments/{pid}/verify"))
        if state == "partially_refunded":
            await _ok(await api.post(f"/api/payments/{pid}/refunds", json={"amount": 400}))
        elif state == "refunded":
            await _ok(await api.post(f"/api/payments/{pid}/refunds", json={}))
    current = (await api.get(f"/api/payments/{pid}")).json()
    assert current["status"] == state, current
    return pid


async def _snapshot(db_engine: AsyncEngine, pid: str) -> dict[str, Any]:
    async with db_engine.connect() as conn:
        row = (await conn.execute(text("SELECT * FROM payments WHERE id = :p"), {"p": pid})).mappings().one()
    return {
        "payment": dict(row),
        "events": await count_rows(db_engine, "payment_events", pid),
        "refunds": await count_rows(db_engine, "refunds", pid),
        "keys": await count_rows(db_engine, "idempotency_keys"),
    }


def test_the_matrix_covers_every_state_and_command() -> None:
    assert len(ILLEGAL) == len(COMMANDS) * len(STATES) - len(LEGAL) - 1
    assert {state for _, state in ILLEGAL} == set(STATES)


@pytest.mark.parametrize(("command", "state"), ILLEGAL, ids=[f"{c}-from-{s}" for c, s in ILLEGAL])
@pytest.mark.parametrize("with_key", [False, True], ids=["no-key", "idempotency-key"])
async def test_illegal_command_is_409_and_writes_nothing(
    api: httpx.AsyncClient, db_engine: AsyncEngine, command: str, state: str, with_key: bool
) -> None:
    provider = "cash" if command == "confirm-cash" else "mock"
    pid = await payment_in(api, db_engine, state, provider)
    before = await _snapshot(db_engine, pid)
    path, body = COMMANDS[command]
    headers = {"Idempotency-Key": uuid.uuid4().hex} if with_key else {}
    response = await api.post(f"/api/payments/{pid}/{path}", json=body, headers=headers)
    assert response.status_code == 409, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    problem = response.json()
    assert problem["status"] == 409 and problem["payment_status"] == state
    assert await _snapshot(db_engine, pid) == before


@pytest.mark.parametrize("state", STATES)
async def test_confirm_cash_of_a_mock_payment_is_409_in_every_state(
    api: httpx.AsyncClient, db_engine: AsyncEngine, state: str
) -> None:
    pid = await payment_in(api, db_engine, state, "mock")
    before = await _snapshot(db_engine, pid)
    response = await _post(api, pid, "confirm-cash")
    assert response.status_code == 409, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert await _snapshot(db_engine, pid) == before


@pytest.mark.parametrize("state", ["succeeded", "partially_refunded", "refunded", "failed", "canceled"])
async def test_verify_of_a_settled_payment_changes_nothing(
    api: httpx.AsyncClient, db_engine: AsyncEngine, state: str
) -> None:
    pid = await payment_in(api, db_engine, state, "mock")
    before = await _snapshot(db_engine, pid)
    response = await api.post(f"/api/payments/{pid}/verify")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == state
    assert await _snapshot(db_engine, pid) == before


@pytest.mark.parametrize(
    ("provider", "commands", "winners"),
    [
        (
            "cash",
            ("cancel", "confirm-cash"),
            {"cancel": ["payment.canceled"], "confirm-cash": ["payment.succeeded"]},
        ),
        (
            "mock",
            ("cancel", "capture"),
            {"cancel": ["payment.canceled"], "capture": ["payment.captured", "payment.succeeded"]},
        ),
    ],
)
async def test_two_different_commands_race_and_exactly_one_wins(
    api: httpx.AsyncClient,
    db_engine: AsyncEngine,
    provider: str,
    commands: tuple[str, str],
    winners: dict[str, list[str]],
) -> None:
    state = "authorized" if "capture" in commands else "pending"
    for _ in range(5):
        pid = await payment_in(api, db_engine, state, provider)
        events_before = await event_types(db_engine, pid)
        first, second = await asyncio.gather(*(_post(api, pid, command) for command in commands))
        answers = dict(zip(commands, (first, second), strict=True))
        statuses = sorted(r.status_code for r in answers.values())
        assert statuses == [200, 409], {c: r.text for c, r in answers.items()}
        winner = next(c for c, r in answers.items() if r.status_code == 200)
        loser = next(c for c, r in answers.items() if r.status_code == 409)
        assert answers[loser].headers["content-type"].startswith(PROBLEM)
        assert await event_types(db_engine, pid) == [*events_before, *winners[winner]]
        final = (await api.get(f"/api/payments/{pid}")).json()
        assert final == answers[winner].json()
        assert final["status"] == ("canceled" if winner == "cancel" else "succeeded")
