"""``paygate demo-receiver``: a partner endpoint on this machine that prints each verified webhook.

By default it registers itself (partner ``demo-receiver``, every event type) in the database of the
running ``make dev`` or ``PAYGATE_DATABASE_URL``; run again, it takes over the same partner with a
fresh secret. The secret stays in this process: nothing to copy.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from sqlalchemy.ext.asyncio import AsyncSession

from paygate.commands import EXIT_CONFIG, CommandError, database_url, run_with_session
from paygate.commands.parsing import Commands, add_command
from paygate.demo_receiver import DemoReceiver
from shared.models import EVENT_TYPES, Partner


def _register(url: str, name: str, endpoint: str) -> Partner:
    from gateway.partners.services import create_partner, list_partners, rotate_secret, update_partner
    from gateway.settings import get_gateway_settings

    settings = get_gateway_settings()

    async def work(session: AsyncSession) -> Partner:
        partners, _ = await list_partners(session)
        existing = next((p for p in partners if p.name == name), None)
        if existing is None:
            return await create_partner(
                session, name=name, url=endpoint, event_types=EVENT_TYPES, settings=settings
            )
        await update_partner(
            session, existing.id, url=endpoint, event_types=EVENT_TYPES, enabled=True, settings=settings
        )
        return await rotate_secret(session, existing.id, settings=settings)

    return run_with_session(url, work)


def _say(line: str) -> None:
    print(f"[demo-receiver] {line}", flush=True)


def run(args: argparse.Namespace) -> int:
    try:
        server = DemoReceiver((args.host, args.port), secret=args.secret or "", output=_say)
    except OSError as exc:
        raise CommandError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}", EXIT_CONFIG) from None
    try:
        if args.secret is None:
            partner = _register(database_url(args.database_url), args.name, server.url)
            server.secret = partner.secret
            _say(f"registered as partner {partner.name} ({partner.id}) for every event type")
        _say(f"listening on {server.url}; Ctrl-C stops")

        def _stop(_signum: int, _frame: FrameType | None) -> None:
            threading.Thread(target=server.shutdown, daemon=True).start()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    _say("stopped")
    sys.stdout.flush()
    return 0


def add_parser(commands: Commands) -> None:
    demo = add_command(
        commands,
        "demo-receiver",
        "run a demo partner endpoint that verifies and prints webhooks",
        "Listen on http://HOST:PORT/webhooks, verify every delivery's Standard Webhooks "
        "signature and print the event. Unless --secret is given, register (or take over) the partner "
        "NAME in the database (PAYGATE_DATABASE_URL, or the running `make dev`). Loopback partner URLs "
        "are accepted in dev mode only.",
        handler=run,
        database_option=True,
    )
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8009)
    demo.add_argument("--name", default="demo-receiver", help="partner name to register under")
    demo.add_argument("--secret", default=None, help="verify with this whsec_ secret; do not register")
