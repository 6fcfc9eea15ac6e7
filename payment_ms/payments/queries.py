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
from shared.problems import BadRequestError, NotFoundError
from shared.queries import PaymentFilter

MAX_STATS_DAYS = 366
DEFAULT_STATS_DAYS = 30


async def get_payment(engine: AsyncEngine, payment_id: uuid.UUID) -> Payment:
    async with engine.connect() as conn:
        row = await repo.get_payment(conn, payment_id)
    if row is None:
        raise NotFoundError(f"payment {payment_id} not found")
    return to_contract(row)


async def list_payments(engine: AsyncEngine, filters: PaymentFilter) -> PaymentList:
    fetch = functools.partial(repo.list_payments, filters=filters)
    # An empty cursor is the first page here (``cursor=`` as sent by some clients).
    rows, next_cursor = await page(engine, fetch, filters.cursor or None, filters.limit)
    return PaymentList(items=[to_contract(row) for row in rows], next_cursor=next_cursor)


async def daily_stats(
    engine: AsyncEngine, *, day_from: date | None, day_to: date | None
) -> DailyPaymentStats:
    day_to = day_to or datetime.now(UTC).date()
    if day_to == date.max:  # the query's end is the day after ``to``, which does not exist
        raise BadRequestError(f"to must be before {date.max.isoformat()}")
    if day_from is None:
        if day_to.toordinal() - date.min.toordinal() < DEFAULT_STATS_DAYS - 1:
            raise BadRequestError(
                f"the default range ({DEFAULT_STATS_DAYS} days up to to) starts before "
                f"{date.min.isoformat()}; give from"
            )
        day_from = day_to - timedelta(days=DEFAULT_STATS_DAYS - 1)
    if day_from > day_to:
        raise BadRequestError("from must not be after to")
    if (day_to - day_from).days >= MAX_STATS_DAYS:
        raise BadRequestError(f"at most {MAX_STATS_DAYS} days per query")
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
