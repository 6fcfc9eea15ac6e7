"""Reading payments: one, a filtered page (newest first, keyset cursor), and daily totals."""

from __future__ import annotations

import functools
import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from payment_ms.pagination import page
from payment_ms.payments import repositories as repo
from payment_ms.payments.mapping import to_contract
from shared.contracts import DailyPaymentStat, DailyPaymentStats, Payment, PaymentList
from shared.problems import found
from shared.queries import PaymentFilter


async def get_payment(engine: AsyncEngine, payment_id: uuid.UUID) -> Payment:
    async with engine.connect() as conn:
        row = found(await repo.get_payment(conn, payment_id), f"payment {payment_id} not found")
    return to_contract(row)


async def list_payments(engine: AsyncEngine, filters: PaymentFilter) -> PaymentList:
    fetch = functools.partial(repo.list_payments, filters=filters)
    # An empty cursor is the first page here (``cursor=`` as sent by some clients).
    rows, next_cursor = await page(engine, fetch, filters.cursor or None, filters.limit)
    return PaymentList(items=[to_contract(row) for row in rows], next_cursor=next_cursor)


async def daily_stats(engine: AsyncEngine, *, day_to: date | None, days: int) -> DailyPaymentStats:
    day_to = day_to or datetime.now(UTC).date()
    first_possible = day_to.toordinal() - date.min.toordinal() + 1  # days from 0001-01-01 to ``to``
    day_from = day_to - timedelta(days=min(days, first_possible) - 1)
    async with engine.connect() as conn:
        rows = await repo.daily_stats(conn, day_from=day_from, day_to=day_to)
    return DailyPaymentStats(
        day_from=day_from.isoformat(),
        day_to=day_to.isoformat(),
        items=[
            DailyPaymentStat(
                day=row["day"].isoformat(),
                provider=row["provider"],
                status=row["status"],
                currency=row["currency"],
                count=row["count"],
                amount=int(row["amount"]),
            )
            for row in rows
        ],
    )


async def count_by_status(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        return await repo.count_by_status(conn)
