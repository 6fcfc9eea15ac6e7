"""The console's overview: payments per day by status and by provider, volume per currency, the
delivery queue and deliveries per minute by outcome, drawn as server-side SVG."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import get
from litestar.di import NamedDependency
from litestar.response import Template
from markupsafe import Markup

from gateway.console.access import ConsolePages
from gateway.web.charts import OUTCOME_COLOURS, colour_of, legend, stacked_bars
from gateway.web.pages import money
from gateway.web.visits import ConsoleVisit
from shared.contracts import DailyPaymentStat, DeliveryStats
from shared.models import PAYMENT_PROVIDERS, PAYMENT_STATUSES
from shared.queries import StatsPeriod

DAYS = 14
MINUTES = 60
SETTLED = ("succeeded", "partially_refunded", "refunded")


def _chart(
    label: str,
    categories: list[str],
    series: dict[str, list[int]],
    fixed: dict[str, str] | None = None,
    **kw: Any,
) -> dict[str, Markup]:
    colours = colour_of(list(series), fixed)
    return {"svg": stacked_bars(label, categories, series, colours, **kw), "legend": legend(colours)}


def payment_charts(items: list[DailyPaymentStat], days: list[str]) -> dict[str, Any]:
    index = {day: i for i, day in enumerate(days)}
    by_status: dict[str, list[int]] = {s: [0] * len(days) for s in PAYMENT_STATUSES}
    by_provider: dict[str, list[int]] = {p: [0] * len(days) for p in PAYMENT_PROVIDERS}
    volume: dict[str, list[int]] = defaultdict(lambda: [0] * len(days))
    for item in items:
        i = index.get(item.day)
        if i is None:
            continue
        by_status[item.status][i] += item.count
        by_provider[item.provider][i] += item.count
        if item.status in SETTLED:
            volume[item.currency][i] += item.amount
    labels = [d[5:] for d in days]  # MM-DD
    status_series = {s: v for s, v in by_status.items() if any(v)}
    provider_series = {p: v for p, v in by_provider.items() if any(v)}
    total = sum(sum(v) for v in status_series.values())
    volumes: list[dict[str, Any]] = []
    charts: dict[str, Any] = {
        "status": _chart(
            f"Payments per day by status, {total} in {len(days)} days",
            labels,
            status_series,
            every_nth_label=2,
        ),
        "provider": _chart(
            f"Payments per day by provider, {total} in {len(days)} days",
            labels,
            provider_series,
            every_nth_label=2,
        ),
        "volume": volumes,
    }
    for currency, values in sorted(volume.items()):
        summary = f"{currency} volume per day, {money(sum(values), currency)} in {len(days)} days"
        volumes.append(
            {
                "currency": currency,
                "total": money(sum(values), currency),
                **_chart(
                    summary,
                    labels,
                    {currency: values},
                    format_value=lambda v, c=currency: money(v, c),
                    every_nth_label=2,
                ),
            }
        )
    return charts


def delivery_chart(stats: DeliveryStats, now: datetime) -> dict[str, Markup]:
    start = now.replace(second=0, microsecond=0) - timedelta(minutes=MINUTES - 1)
    minutes = [start + timedelta(minutes=i) for i in range(MINUTES)]
    index = {m: i for i, m in enumerate(minutes)}
    series = {"succeeded": [0] * MINUTES, "failed": [0] * MINUTES}
    for row in stats.minutes:
        i = index.get(row.minute.astimezone(UTC).replace(tzinfo=UTC))
        if i is not None:
            series["succeeded"][i] += row.succeeded
            series["failed"][i] += row.failed
    total = sum(series["succeeded"]) + sum(series["failed"])
    labels = [m.strftime("%H:%M") for m in minutes]
    return _chart(
        f"Delivery attempts per minute by outcome, {total} in the last hour",
        labels,
        series,
        OUTCOME_COLOURS,
        every_nth_label=10,
    )


class ConsoleOverviewController(ConsolePages):
    path = "/"

    @get("/", operation_id="consoleOverview")
    async def overview(self, visit: NamedDependency[ConsoleVisit]) -> Template:
        now = datetime.now(UTC)
        today = now.date()
        first = today - timedelta(days=DAYS - 1)
        daily, deliveries = await asyncio.gather(
            visit.payment_ms.daily_stats(StatsPeriod(day_to=today, days=DAYS)),
            visit.payment_ms.delivery_stats(MINUTES),
        )
        days = [(first + timedelta(days=i)).isoformat() for i in range(DAYS)]
        return visit.page(
            "console/overview.html",
            title="Overview",
            section="Overview",
            charts=payment_charts(daily.items, days),
            queue=deliveries,
            deliveries_chart=delivery_chart(deliveries, now),
        )
