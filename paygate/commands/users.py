"""``paygate create-user`` / ``paygate create-admin``: accounts for the gateway's login.

The password never goes on the command line (it would show in ``ps`` and shell history): it is read
from a prompt, or from stdin with ``--password-stdin``.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from sqlalchemy.ext.asyncio import AsyncSession

from paygate.commands import EXIT_CONFIG, CommandError, database_url, run_with_session


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise CommandError("no password on stdin", EXIT_CONFIG)
        return password
    if not sys.stdin.isatty():
        raise CommandError("stdin is not a terminal: pass the password with --password-stdin", EXIT_CONFIG)
    password = getpass.getpass("password: ")
    if getpass.getpass("again: ") != password:
        raise CommandError("the passwords differ")
    return password


def run_create_user(args: argparse.Namespace) -> int:
    from gateway.users.services import create_user

    url = database_url(args.database_url)
    password = _read_password(args)

    async def work(session: AsyncSession) -> str:
        user = await create_user(session, email=args.email, password=password, role=args.role)
        return f"created {user.role} {user.email} (id {user.id})"

    print(run_with_session(url, work))
    return 0


def add_parsers(commands: argparse._SubParsersAction) -> None:
    for name, role, text in (
        ("create-user", "user", "create a user who can log in and pay"),
        ("create-admin", "admin", "create an administrator (partners, deliveries, every payment)"),
    ):
        parser = commands.add_parser(
            name,
            help=text,
            description=f"{text[0].upper()}{text[1:]}. The password is prompted for, or read from stdin "
            "with --password-stdin (e.g. `printf '%%s\\n' \"$PW\" | paygate "
            f"{name} EMAIL --password-stdin`). Exit 1 if the email is taken.",
        )
        parser.add_argument("email")
        parser.add_argument(
            "--password-stdin", action="store_true", help="read the password from the first line of stdin"
        )
        parser.add_argument("--database-url", default=None, help="instead of PAYGATE_DATABASE_URL")
        if role == "user":
            parser.add_argument("--role", choices=["user", "admin"], default="user")
        parser.set_defaults(handler=run_create_user, role=role)
