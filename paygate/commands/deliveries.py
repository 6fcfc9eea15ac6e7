"""``paygate deliveries list|show|replay``: what the dispatcher sent, and sending webhooks again (one
delivery, or a partner's deliveries in a window)."""

from __future__ import annotations

import argparse
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncEngine

from paygate.commands import EXIT_CONFIG, CommandError, database_url, print_json, run_with_engine
from paygate.commands.parsing import Commands, add_actions, add_command
from shared.models import DELIVERY_STATUSES

_RELATIVE = re.compile(r"^(\d+)([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def parse_since(raw: str, now: datetime | None = None, option: str = "--since") -> datetime:
    """An RFC 3339 time (UTC when no offset is given) or a duration back from now: 30m, 6h, 2d."""
    match = _RELATIVE.match(raw.strip())
    if match:
        delta = timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
        return (now or datetime.now(UTC)) - delta
    try:
        parsed = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise CommandError(
            f"{option} {raw!r}: give a time (2026-11-22T10:00:00Z) or a duration (30m, 6h, 2d)", EXIT_CONFIG
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
    until = parse_since(args.until, option="--until") if args.until else None
    if until is not None and until <= since:  # the API answers 0 for an empty window; a person typo'd
        raise CommandError("until must be later than since")

    async def many(engine: AsyncEngine) -> int:
        return await replay_partner_deliveries(engine, partner_id, since, until, include_all=args.all)

    count = run_with_engine(url, many)
    which = "finished (succeeded, failed or canceled)" if args.all else "failed or canceled"
    window = f"from {since.isoformat()} to {until.isoformat() if until else 'now'}"
    print(f"{count} {which} deliveries of partner {partner_id} created {window} are due now")
    return 0


def _iso(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value else "-"


def run_list(args: argparse.Namespace) -> int:
    from payment_ms.deliveries.services import list_deliveries
    from shared.queries import DeliveryFilter

    url = database_url(args.database_url)
    partner_id = _uuid(args.partner, "partner") if args.partner else None
    since = parse_since(args.since) if args.since else None

    filters = DeliveryFilter(status=args.state, partner_id=partner_id, created_from=since, limit=args.limit)

    async def work(engine: AsyncEngine) -> Any:
        return await list_deliveries(engine, filters)

    page = run_with_engine(url, work)
    if args.json:
        return print_json(msgspec.to_builtins(page))
    if not page.items:
        print("no deliveries")
        return 0
    print(f"{'id':36}  {'state':9}  {'tries':5}  {'last':5}  {'created':25}  partner")
    for d in page.items:
        state = f"held:{d.held}" if d.held else f"test:{d.status}" if d.test else d.status
        last = str(d.last_status_code) if d.last_status_code is not None else "-"
        print(
            f"{d.id!s:36}  {state:9}  {d.attempt_count:5}  {last:5}  {_iso(d.created_at):25}  {d.partner_id}"
        )
    if page.next_cursor:
        print(f"(more: --limit above {args.limit}, or the admin API with cursor={page.next_cursor})")
    return 0


def run_show(args: argparse.Namespace) -> int:
    from payment_ms.deliveries.services import get_delivery

    url = database_url(args.database_url)
    delivery_id = _uuid(args.delivery_id, "delivery")

    async def work(engine: AsyncEngine) -> Any:
        return await get_delivery(engine, delivery_id)

    d = run_with_engine(url, work)
    if args.json:
        return print_json(msgspec.to_builtins(d))
    print(
        f"delivery {d.id}: {d.status}"
        + (f" (held: {d.held})" if d.held else "")
        + (" (test send)" if d.test else "")
    )
    print(f"  event:     {d.event_id} ({d.event_type})")
    print(f"  partner:   {d.partner_id}  {d.url}")
    print(f"  attempts:  {d.attempt_count} ({d.throttled_count} answered 429)")
    print(f"  created:   {_iso(d.created_at)}   due: {_iso(d.due_at)}   delivered: {_iso(d.delivered_at)}")
    if d.last_error:
        print(f"  last error: {d.last_error}")
    for a in d.attempts:
        answer = a.status_code if a.status_code is not None else "no answer"
        print(f"  #{a.attempt_number} {_iso(a.started_at)}  {answer}  {a.duration_ms} ms  {a.error or ''}")
        if a.response_excerpt:
            print(f"      {a.response_excerpt[:200]!r}")
    return 0


def add_parser(commands: Commands) -> None:
    deliveries = add_command(commands, "deliveries", "webhook deliveries: list, show, replay")
    actions = add_actions(deliveries)
    listing = add_command(
        actions,
        "list",
        "deliveries, newest first",
        "Webhook deliveries, newest first.",
        handler=run_list,
        database_option=True,
        json_option=True,
    )
    listing.add_argument("--partner", metavar="PARTNER_ID", help="only this partner's")
    listing.add_argument("--state", choices=DELIVERY_STATUSES, help="only in this state")
    listing.add_argument("--since", metavar="WHEN", help="created since WHEN: RFC 3339 time or 30m / 6h / 2d")
    listing.add_argument("--limit", type=int, default=50, choices=range(1, 201), metavar="N", help="1-200")
    show = add_command(
        actions,
        "show",
        "one delivery with every attempt",
        handler=run_show,
        database_option=True,
        json_option=True,
    )
    show.add_argument("delivery_id")
    replay = add_command(
        actions,
        "replay",
        "send deliveries again now",
        "Make deliveries due now; a running dispatcher sends them at once. Either one "
        "delivery (any status but in flight), or a partner's failed/canceled deliveries created in "
        "[--since, --until) (--all: the succeeded ones too). The webhook-id stays the event id, so "
        "partners can deduplicate.",
        handler=run_replay,
        database_option=True,
    )
    replay.add_argument("delivery_id", nargs="?", help="one delivery (ids: gateway GET /admin/deliveries)")
    replay.add_argument("--partner", metavar="PARTNER_ID", help="every failed delivery of this partner…")
    replay.add_argument("--since", metavar="WHEN", help="…created since WHEN: RFC 3339 time or 30m / 6h / 2d")
    replay.add_argument("--until", metavar="WHEN", help="…and before WHEN (default: now)")
    replay.add_argument("--all", action="store_true", help="the succeeded deliveries too")
