"""``paygate deliveries replay``: send webhooks again (one delivery, or a partner's failures since)."""

from __future__ import annotations

import argparse
import re
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from paygate.commands import EXIT_CONFIG, CommandError, database_url, run_with_engine

_RELATIVE = re.compile(r"^(\d+)([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def parse_since(raw: str, now: datetime | None = None) -> datetime:
    """An RFC 3339 time (UTC when no offset is given) or a duration back from now: 30m, 6h, 2d."""
    match = _RELATIVE.match(raw.strip())
    if match:
        delta = timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
        return (now or datetime.now(UTC)) - delta
    try:
        parsed = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise CommandError(
            f"--since {raw!r}: give a time (2026-11-22T10:00:00Z) or a duration (30m, 6h, 2d)", EXIT_CONFIG
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _uuid(raw: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise CommandError(f"{raw!r} is not a {what} id (a UUID)") from None


def run_replay(args: argparse.Namespace) -> int:
    from payment_ms.dispatcher import replay_delivery, replay_partner_deliveries

    if bool(args.delivery_id) == bool(args.partner):
        raise CommandError("give either a DELIVERY_ID or --partner PARTNER_ID --since WHEN", EXIT_CONFIG)
    url = database_url(args.database_url)
    if args.delivery_id:
        delivery_id = _uuid(args.delivery_id, "delivery")

        async def one(engine: AsyncEngine) -> str:
            row = await replay_delivery(engine, delivery_id)
            return f"delivery {row['id']} is due now (event {row['event_id']}, partner {row['partner_id']})"

        print(run_with_engine(url, one))
        return 0
    if not args.since:
        raise CommandError("--partner needs --since (e.g. --since 24h)", EXIT_CONFIG)
    partner_id = _uuid(args.partner, "partner")
    since = parse_since(args.since)

    async def many(engine: AsyncEngine) -> int:
        return await replay_partner_deliveries(engine, partner_id, since)

    count = run_with_engine(url, many)
    print(
        f"{count} failed or canceled deliveries of partner {partner_id} since {since.isoformat()} are due now"
    )
    return 0


def add_parser(commands: argparse._SubParsersAction) -> None:
    deliveries = commands.add_parser("deliveries", help="webhook deliveries: replay")
    actions = deliveries.add_subparsers(dest="action", required=True, metavar="ACTION")
    replay = actions.add_parser(
        "replay",
        help="send deliveries again now",
        description="Make deliveries due now; a running dispatcher sends them at once. Either one "
        "delivery (any status but in flight), or every failed/canceled delivery of a partner created "
        "since a time. The webhook-id stays the event id, so partners can deduplicate.",
    )
    replay.add_argument("delivery_id", nargs="?", help="one delivery (ids: gateway GET /admin/deliveries)")
    replay.add_argument("--partner", metavar="PARTNER_ID", help="every failed delivery of this partner…")
    replay.add_argument("--since", metavar="WHEN", help="…created since WHEN: RFC 3339 time or 30m / 6h / 2d")
    replay.add_argument("--database-url", default=None, help="instead of PAYGATE_DATABASE_URL")
    replay.set_defaults(handler=run_replay)
