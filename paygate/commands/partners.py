"""``paygate partners add|list|rotate-secret|enable|disable``: the partner registry from a shell.

A partner's signing secret is printed exactly twice in its life: by ``add`` and by ``rotate-secret``
(each time the new one, once). ``list`` never shows secrets.
"""

from __future__ import annotations

import argparse
import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from paygate.commands import CommandError, database_url, run_with_session
from shared.models import EVENT_TYPES, Partner


def _partner_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise CommandError(f"{raw!r} is not a partner id (a UUID; see `paygate partners list`)") from None


def _event_types(raw: str | None) -> list[str]:
    if not raw:
        return list(EVENT_TYPES)
    return [part.strip() for part in raw.split(",") if part.strip()]


def _view(partner: Partner) -> dict[str, Any]:
    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": str(partner.id),
        "name": partner.name,
        "url": partner.url,
        "event_types": list(partner.event_types),
        "enabled": partner.enabled,
        "payer_details": partner.payer_details,
        "disabled_reason": partner.disabled_reason,
        "previous_secret_expires_at": iso(partner.previous_secret_expires_at),
        "created_at": iso(partner.created_at),
    }


def _print_with_secret(partner: Partner, as_json: bool, what: str) -> None:
    view = {**_view(partner), "secret": partner.secret}
    if as_json:
        print(json.dumps(view, indent=2))
        return
    print(f"{what} partner {partner.name} ({partner.id})")
    print(f"  url:     {partner.url}")
    print(f"  events:  {', '.join(partner.event_types)}")
    print(f"  payer details (email, name) in its webhooks: {'yes' if partner.payer_details else 'no'}")
    if partner.previous_secret_expires_at:
        print(f"  the previous secret keeps signing until {partner.previous_secret_expires_at.isoformat()}")
    print(f"  secret:  {partner.secret}")
    print("  (shown this once: give it to the partner now; it verifies our signatures with it)")


def run_add(args: argparse.Namespace) -> int:
    from gateway.partners.services import create_partner

    url = database_url(args.database_url)

    async def work(session: AsyncSession) -> Partner:
        return await create_partner(
            session,
            name=args.name,
            url=args.url,
            event_types=_event_types(args.events),
            enabled=not args.disabled,
            payer_details=args.payer_details,
        )

    _print_with_secret(run_with_session(url, work), args.json, "created")
    return 0


def run_list(args: argparse.Namespace) -> int:
    from gateway.partners.services import list_partners

    url = database_url(args.database_url)

    async def work(session: AsyncSession) -> list[dict[str, Any]]:
        partners, _ = await list_partners(
            session, event_type=args.event_type, enabled=True if args.enabled else None
        )
        return [_view(partner) for partner in partners]

    views = run_with_session(url, work)
    if args.json:
        print(json.dumps({"items": views, "total": len(views)}, indent=2))
        return 0
    if not views:
        print("no partners")
        return 0
    print(f"{'id':36}  {'enabled':7}  {'name':20}  url / events")
    for view in views:
        state = "yes" if view["enabled"] else "no"
        print(f"{view['id']:36}  {state:7}  {view['name'][:20]:20}  {view['url']}")
        detail = ", ".join(view["event_types"])
        if view["payer_details"]:
            detail += "  (with payer details)"
        if view["disabled_reason"]:
            detail += f"  (disabled: {view['disabled_reason']})"
        print(f"{'':36}  {'':7}  {'':20}  {detail}")
    return 0


def run_rotate(args: argparse.Namespace) -> int:
    from gateway.partners.services import rotate_secret

    url = database_url(args.database_url)
    partner_id = _partner_id(args.partner_id)

    async def work(session: AsyncSession) -> Partner:
        return await rotate_secret(session, partner_id)

    _print_with_secret(run_with_session(url, work), args.json, "rotated the secret of")
    return 0


def run_set_enabled(args: argparse.Namespace) -> int:
    from gateway.partners.services import disable_partner, update_partner

    url = database_url(args.database_url)
    partner_id = _partner_id(args.partner_id)

    async def work(session: AsyncSession) -> Partner:
        if args.enable:
            return await update_partner(session, partner_id, enabled=True)
        return await disable_partner(session, partner_id, reason=args.reason)

    partner = run_with_session(url, work)
    print(f"{'enabled' if partner.enabled else 'disabled'} partner {partner.name} ({partner.id})")
    return 0


def run_payer_details(args: argparse.Namespace) -> int:
    from gateway.partners.services import update_partner

    url = database_url(args.database_url)
    partner_id = _partner_id(args.partner_id)

    async def work(session: AsyncSession) -> Partner:
        return await update_partner(session, partner_id, payer_details=args.state == "on")

    partner = run_with_session(url, work)
    state = "carry" if partner.payer_details else "no longer carry"
    print(f"webhooks to partner {partner.name} ({partner.id}) {state} the payer's email and name")
    return 0


def add_parser(commands: argparse._SubParsersAction) -> None:
    partners = commands.add_parser(
        "partners",
        help="manage the partners that receive signed webhooks",
        description="The partner registry (also at the gateway's /admin/partners). Partner URLs must be "
        "https on a public host, unless listed in GATEWAY_PARTNER_ALLOWED_HOSTS (dev allows loopback).",
    )
    actions = partners.add_subparsers(dest="action", required=True, metavar="ACTION")

    def sub(name: str, text: str, description: str | None = None) -> argparse.ArgumentParser:
        parser = actions.add_parser(name, help=text, description=description or text)
        parser.add_argument("--database-url", default=None, help="instead of PAYGATE_DATABASE_URL")
        return parser

    add = sub(
        "add",
        "register a partner and print its signing secret (once)",
        "Register a partner endpoint. Prints the new whsec_ signing secret: this is the only time it "
        "is shown. Exit 1 if the name is taken or the URL is refused.",
    )
    add.add_argument("--name", required=True)
    add.add_argument("--url", required=True, help="where events are POSTed (https)")
    add.add_argument(
        "--events",
        default=None,
        help="comma-separated event types, e.g. payment.succeeded,payment.refunded (default: all)",
    )
    add.add_argument("--disabled", action="store_true", help="register without delivering yet")
    add.add_argument(
        "--payer-details",
        action="store_true",
        help="its webhooks carry the payer's email and name (default: the minimal payload without them)",
    )
    add.add_argument("--json", action="store_true", help="print JSON")
    add.set_defaults(handler=run_add)

    listing = sub("list", "list partners (never their secrets)")
    listing.add_argument("--event-type", default=None, choices=EVENT_TYPES, help="only those subscribed")
    listing.add_argument("--enabled", action="store_true", help="only enabled partners")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=run_list)

    rotate = sub(
        "rotate-secret",
        "give a partner a new secret; the old one keeps signing beside it for 24 h",
        "Generate a new signing secret and print it once. Deliveries carry signatures with both the "
        "new and the previous secret for GATEWAY_SECRET_ROTATION_OVERLAP_HOURS (24), so the partner "
        "can switch without losing events.",
    )
    rotate.add_argument("partner_id")
    rotate.add_argument("--json", action="store_true", help="print JSON")
    rotate.set_defaults(handler=run_rotate)

    disable = sub("disable", "stop deliveries to a partner")
    disable.add_argument("partner_id")
    disable.add_argument("--reason", default="disabled by an operator")
    disable.set_defaults(handler=run_set_enabled, enable=False)

    enable = sub("enable", "resume deliveries to a disabled partner")
    enable.add_argument("partner_id")
    enable.set_defaults(handler=run_set_enabled, enable=True)

    payer = sub(
        "payer-details",
        "whether a partner's webhooks carry the payer's email and name",
        "Turn the payer's details (payer_email, payer_name) in a partner's webhooks on or off. Off by "
        "default: partners get the minimal payload unless registered to receive them.",
    )
    payer.add_argument("partner_id")
    payer.add_argument("state", choices=("on", "off"))
    payer.set_defaults(handler=run_payer_details)
