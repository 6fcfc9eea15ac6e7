"""``paygate migrate``: alembic with paygate's configuration and readable failures."""

from __future__ import annotations

import argparse
import logging
import sys

from alembic.util.exc import CommandError as AlembicCommandError

from alembic import command
from paygate.commands import EXIT_CONFIG, EXIT_REFUSED, CommandError, database_failure, database_url
from paygate.commands.db import set_up_roles, settings_roles
from paygate.commands.parsing import Commands, add_actions, add_command
from paygate.migrations import alembic_config


def _show_progress() -> None:
    """alembic's "Running upgrade a -> b" lines on stderr (stdout stays clean for ``--sql``)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    alembic_logger = logging.getLogger("alembic")
    alembic_logger.handlers[:] = [handler]
    alembic_logger.setLevel(logging.INFO)
    alembic_logger.propagate = False


def _configured_database_url() -> str:
    from shared.settings import PaygateSettings
    from shared.settings_errors import load_settings

    return load_settings(PaygateSettings, "PAYGATE_").database_url


def run(args: argparse.Namespace) -> int:
    action: str = args.action
    offline = bool(getattr(args, "sql", False))
    # Offline SQL and the history need no database (alembic/env.py falls back to a placeholder URL).
    needs_database = action in ("upgrade", "downgrade", "current") and not offline
    if needs_database:
        url = database_url(args.database_url)
    else:
        url = args.database_url or ""
        # Offline, alembic/env.py still reads PAYGATE_DATABASE_URL when set: it must be usable.
        if url or _configured_database_url():
            url = database_url(args.database_url)
    config = alembic_config(url or None)
    config.stdout = sys.stdout  # alembic binds the sys.stdout of import time
    _show_progress()
    try:
        if action == "upgrade":
            roles = [] if offline else settings_roles()  # a bad service URL stops before any change
            command.upgrade(config, args.revision, sql=offline)
            if roles:  # new tables get their grants with the migration that made them
                set_up_roles(url, roles)
        elif action == "downgrade":
            revision = args.revision
            if offline and ":" not in revision:
                raise CommandError(
                    "offline downgrade needs a range: paygate migrate downgrade <from>:<to> --sql "
                    "(e.g. head:base)",
                    EXIT_CONFIG,
                )
            command.downgrade(config, revision, sql=offline)
        elif action == "current":
            command.current(config, verbose=args.verbose)
        elif action == "history":
            command.history(config, verbose=args.verbose, indicate_current=False)
        elif action == "heads":
            command.heads(config, verbose=args.verbose)
    except AlembicCommandError as exc:
        raise CommandError(f"alembic: {exc}", EXIT_REFUSED) from None
    except Exception as exc:
        failure = database_failure(exc, url)
        if failure is None:
            raise
        raise failure from None
    return 0


def add_parser(commands: Commands) -> None:
    parser = add_command(
        commands,
        "migrate",
        "apply, revert or print database migrations (alembic)",
        "Run the database migrations with PAYGATE_DATABASE_URL. `--sql` prints the SQL "
        "instead of running it (no database needed), for a DBA to review and apply.",
        handler=run,
    )
    parser.add_argument(
        "--database-url", default=None, help="instead of PAYGATE_DATABASE_URL (postgresql://user:pw@host/db)"
    )
    actions = add_actions(parser)

    up = add_command(actions, "upgrade", "upgrade to a revision (default: head)")
    up.add_argument("revision", nargs="?", default="head", help="target revision (default: head)")
    up.add_argument("--sql", action="store_true", help="print the SQL instead of running it (offline)")

    down = add_command(
        actions,
        "downgrade",
        "downgrade to a revision (base = empty database)",
        "Downgrade to REVISION: an id, -1 (one step back) or base. With --sql give a range "
        "FROM:TO, e.g. head:base.",
    )
    down.add_argument("revision", help="target revision: an id, -1, base (with --sql: FROM:TO)")
    down.add_argument("--sql", action="store_true", help="print the SQL instead of running it (offline)")

    for name, text in (
        ("current", "show the revision the database is at"),
        ("history", "list every revision"),
        ("heads", "show the newest revision(s) of the code"),
    ):
        add_command(actions, name, text).add_argument("-v", "--verbose", action="store_true")
