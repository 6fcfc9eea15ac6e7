"""``paygate partners add|list|set|rotate-secret|finish-rotation|test|enable|disable``: the partner
registry from a shell.

A partner's signing secret is printed exactly twice in its life: by ``add`` and by ``rotate-secret``
(each time the new one, once). ``list`` never shows secrets: it names the ones signing by fingerprint
and says until when each signs.
"""

from __future__ import annotations

import argparse
import uuid
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from gateway.settings import get_gateway_settings
from paygate.commands import (
    EXIT_REFUSED,
    CommandError,
    T,
    database_url,
    print_json,
    print_listing,
    run_with_engine,
    run_with_session,
)
from paygate.commands.parsing import Commands, add_actions, add_command
from shared.models import EVENT_TYPES, Partner


def _partner_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise CommandError(f"{raw!r} is not a partner id (a UUID; see `paygate partners list`)") from None


def _on_partner(args: argparse.Namespace, work: Callable[[AsyncSession, uuid.UUID], Awaitable[T]]) -> T:
    """``work`` on the partner ``args.partner_id`` names, in one transaction of the CLI's database."""
    partner_id = _partner_id(args.partner_id)

    async def on_session(session: AsyncSession) -> T:
        return await work(session, partner_id)

    return run_with_session(database_url(args.database_url), on_session)


def _rate(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a whole number of requests per second") from None
    if not 1 <= value <= 10_000:
        raise argparse.ArgumentTypeError("between 1 and 10000 requests per second")
    return value


def _event_types(raw: str | None) -> list[str]:
    if not raw:
        return list(EVENT_TYPES)
    return [part.strip() for part in raw.split(",") if part.strip()]


def _view(partner: Partner) -> dict[str, Any]:
    from gateway.partners.services import partner_view

    view: dict[str, Any] = msgspec.to_builtins(partner_view(partner))
    return view


def _signing_lines(view: dict[str, Any]) -> list[str]:
    return [
        f"signing: {w['fingerprint']} "
        + ("(current)" if w["current"] else f"(retired, signs until {w['signs_until']})")
        for w in view["signing_secrets"]
    ]


def _print_with_secret(partner: Partner, as_json: bool, what: str) -> None:
    view = {**_view(partner), "secret": partner.secret}
    if as_json:
        print_json(view)
        return
    print(f"{what} partner {partner.name} ({partner.id})")
    print(f"  url:     {partner.url}")
    print(f"  events:  {', '.join(partner.event_types)}")
    print(f"  payer details (email, name) in its webhooks: {'yes' if partner.payer_details else 'no'}")
    for line in _signing_lines(view):
        print(f"  {line}")
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
            ordered=args.ordered,
            max_requests_per_second=args.max_rate,
            settings=get_gateway_settings(),
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
    if print_listing(views, args.json, "no partners"):
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
        extras = (["ordered"] if view["ordered"] else []) + (
            [f"at most {view['max_requests_per_second']}/s"] if view["max_requests_per_second"] else []
        )
        for line in [detail, *extras, *_signing_lines(view)]:
            print(f"{'':36}  {'':7}  {'':20}  {line}")
    return 0


def run_rotate(args: argparse.Namespace) -> int:
    from gateway.partners.services import rotate_secret

    rotate = partial(rotate_secret, settings=get_gateway_settings())
    _print_with_secret(_on_partner(args, rotate), args.json, "rotated the secret of")
    return 0


def run_finish_rotation(args: argparse.Namespace) -> int:
    from gateway.partners.services import finish_rotation

    async def work(session: AsyncSession, partner_id: uuid.UUID) -> dict[str, Any]:
        return _view(await finish_rotation(session, partner_id))

    view = _on_partner(args, work)
    if args.json:
        return print_json(view)
    print(f"finished the rotation of partner {view['name']} ({view['id']}): only the current secret signs")
    for line in _signing_lines(view):
        print(f"  {line}")
    return 0


def run_set(args: argparse.Namespace) -> int:
    from gateway.partners.services import UNSET, update_partner

    rate: int | Any | None = None if args.no_max_rate else (args.max_rate if args.max_rate else UNSET)

    change = partial(update_partner, ordered=args.ordered, max_requests_per_second=rate)

    async def work(session: AsyncSession, partner_id: uuid.UUID) -> dict[str, Any]:
        return _view(await change(session, partner_id, settings=get_gateway_settings()))

    view = _on_partner(args, work)
    if args.json:
        return print_json(view)
    limit = (
        f"at most {view['max_requests_per_second']} requests/s"
        if view["max_requests_per_second"]
        else "no rate limit"
    )
    print(f"partner {view['name']} ({view['id']}): {'ordered' if view['ordered'] else 'unordered'}, {limit}")
    return 0


def run_test(args: argparse.Namespace) -> int:
    """The same test send as ``POST /admin/partners/{id}/test``, from this process."""
    from gateway.partners.services import test_send_request
    from paygate.config_check import dispatcher_settings
    from payment_ms.dispatcher.test_send import record_test_send, send_test_event
    from shared.settings import get_paygate_settings

    settings = dispatcher_settings()
    loopback = settings.loopback_allowed(get_paygate_settings().is_dev)

    async def work(session: AsyncSession, partner_id: uuid.UUID) -> Any:
        return await test_send_request(session, partner_id, args.type)

    test = _on_partner(args, work)

    async def send(engine: AsyncEngine) -> Any:  # stored as the partner's test delivery
        sent = await send_test_event(
            test.url, test.secrets, test.type, settings=settings, allow_loopback=loopback
        )
        return await record_test_send(engine, test.partner_id, sent)

    result = run_with_engine(database_url(args.database_url), send)
    if args.json:
        print_json(msgspec.to_builtins(result))
    else:
        outcome = "delivered" if result.delivered else "NOT delivered"
        answer = result.status_code if result.status_code is not None else "no answer"
        print(f"test {result.type} to {result.url}: {outcome} ({answer}) in {result.duration_ms} ms")
        print(f"  webhook-id: {result.webhook_id}, stored as the test delivery {result.delivery_id}")
        if result.error:
            print(f"  error:      {result.error}")
        if result.response_excerpt:
            print(f"  answer:     {result.response_excerpt[:500]}")
    return 0 if result.delivered else EXIT_REFUSED


def run_set_enabled(args: argparse.Namespace) -> int:
    from gateway.partners.services import disable_partner, update_partner

    async def work(session: AsyncSession, partner_id: uuid.UUID) -> Partner:
        if args.enable:
            return await update_partner(session, partner_id, enabled=True, settings=get_gateway_settings())
        return await disable_partner(session, partner_id, reason=args.reason)

    partner = _on_partner(args, work)
    print(f"{'enabled' if partner.enabled else 'disabled'} partner {partner.name} ({partner.id})")
    return 0


def run_payer_details(args: argparse.Namespace) -> int:
    from gateway.partners.services import update_partner

    async def work(session: AsyncSession, partner_id: uuid.UUID) -> Partner:
        on = args.state == "on"
        return await update_partner(session, partner_id, payer_details=on, settings=get_gateway_settings())

    partner = _on_partner(args, work)
    state = "carry" if partner.payer_details else "no longer carry"
    print(f"webhooks to partner {partner.name} ({partner.id}) {state} the payer's email and name")
    return 0


def run_portal_link(args: argparse.Namespace) -> int:
    from gateway.portal.services import issue_link, revoke_link

    settings = get_gateway_settings()

    async def work(session: AsyncSession, partner_id: uuid.UUID) -> dict[str, Any]:
        conn = await session.connection()
        if args.revoke:
            row = await revoke_link(conn, partner_id, _partner_id(args.revoke))
            return {"id": str(row["id"]), "revoked_at": row["revoked_at"].isoformat()}
        link = await issue_link(conn, settings, partner_id, issued_by="paygate partners portal-link")
        return {"id": str(link.id), "url": link.url, "expires_at": link.expires_at.isoformat()}

    answer = _on_partner(args, work)  # an unknown partner or link: exit 1 with its reason
    if args.json:
        print_json(answer)
    elif args.revoke:
        print(f"revoked portal link {answer['id']}: it no longer opens, and the session it opened has ended")
    else:
        print(f"portal link (opens once, until {answer['expires_at']}; revoke: --revoke {answer['id']}):")
        print(f"  {answer['url']}")
    return 0


def add_parser(commands: Commands) -> None:
    partners = add_command(
        commands,
        "partners",
        "manage the partners that receive signed webhooks",
        "The partner registry (also at the gateway's /admin/partners). Partner URLs must be "
        "https on a public host, unless listed in GATEWAY_PARTNER_ALLOWED_HOSTS (dev allows loopback).",
    )
    actions = add_actions(partners)

    def action(
        name: str, text: str, description: str | None = None, *, on_partner: bool = True, **options: Any
    ) -> argparse.ArgumentParser:
        """An ACTION: on the partner PARTNER_ID unless ``on_partner`` is false, with ``--json`` unless
        ``json_option=False``; ``options`` go to ``add_command`` (the handler among them)."""
        options.setdefault("json_option", True)
        parser = add_command(actions, name, text, description or text, database_option=True, **options)
        if on_partner:
            parser.add_argument("partner_id")
        return parser

    add = action(
        "add",
        "register a partner and print its signing secret (once)",
        "Register a partner endpoint. Prints the new whsec_ signing secret: this is the only time it "
        "is shown. Exit 1 if the name is taken or the URL is refused.",
        handler=run_add,
        on_partner=False,
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
    add.add_argument("--ordered", action="store_true", help="ordered delivery (see the partner guide)")
    add.add_argument("--max-rate", type=_rate, default=None, metavar="N", help="at most N requests/s")

    listing = action("list", "list partners (never their secrets)", handler=run_list, on_partner=False)
    listing.add_argument("--event-type", default=None, choices=EVENT_TYPES, help="only those subscribed")
    listing.add_argument("--enabled", action="store_true", help="only enabled partners")

    action(
        "rotate-secret",
        "give a partner a new secret; the old one keeps signing beside it for 24 h",
        "Generate a new signing secret and print it once. Every replaced secret keeps signing beside "
        "it for GATEWAY_SECRET_ROTATION_OVERLAP_HOURS (24) after its own rotation, however many "
        "rotations follow, so the partner can switch without losing events. finish-rotation ends it.",
        handler=run_rotate,
    )
    action(
        "finish-rotation",
        "finish a rotation early: only the current secret signs from now on",
        "Drop every retired secret now (the partner has switched to the new one). Deliveries signed "
        "after the dispatchers' partner cache refreshes (a few seconds) carry one signature.",
        handler=run_finish_rotation,
    )

    settings = action(
        "set", "change a partner's delivery options: ordered delivery, rate limit", handler=run_set
    )
    order = settings.add_mutually_exclusive_group()
    order.add_argument("--ordered", action="store_true", default=None, help="a payment's events in order")
    order.add_argument("--unordered", dest="ordered", action="store_false", help="as fast as possible")
    rate = settings.add_mutually_exclusive_group()
    rate.add_argument("--max-rate", type=_rate, default=None, metavar="N", help="at most N requests/s")
    rate.add_argument("--no-max-rate", action="store_true", help="remove the rate limit")

    test = action(
        "test",
        "send a signed example event to a partner's endpoint now and show the attempt",
        "Sign an example event with the partner's secrets and POST it now, as a delivery would (same "
        "URL policy, timeout, no redirects). Prints status, duration, the first 2 KB of the answer and "
        "the error; it is stored as a test delivery (never sent again). Exit 1 when the endpoint did not "
        "answer 2xx.",
        handler=run_test,
    )
    test.add_argument("--type", default="payment.succeeded", choices=EVENT_TYPES, help="the example event")

    disable = action(
        "disable", "stop deliveries to a partner", handler=run_set_enabled, json_option=False, enable=False
    )
    disable.add_argument("--reason", default="disabled by an operator")
    action(
        "enable",
        "resume deliveries to a disabled partner (its waiting deliveries go out)",
        handler=run_set_enabled,
        json_option=False,
        enable=True,
    )

    payer = action(
        "payer-details",
        "whether a partner's webhooks carry the payer's email and name",
        "Turn the payer's details (payer_email, payer_name) in a partner's webhooks on or off. Off by "
        "default: partners get the minimal payload unless registered to receive them.",
        handler=run_payer_details,
        json_option=False,
    )
    payer.add_argument("state", choices=("on", "off"))

    portal = action(
        "portal-link",
        "print a single-use link into the partner's portal (or revoke one)",
        "Issue a link that opens the partner's self-service portal once, within "
        "GATEWAY_PORTAL_LINK_TTL_SECONDS, on GATEWAY_PUBLIC_URL; with --revoke LINK_ID the link stops "
        "opening and the session it opened ends. Exit 1 for an unknown partner or link.",
        handler=run_portal_link,
    )
    portal.add_argument("--revoke", metavar="LINK_ID", default=None, help="revoke this link instead")
