"""``paygate create-user`` / ``paygate create-admin`` / ``paygate users list|disable|enable``: accounts
for the gateway's login.

The password never goes on the command line (it would show in ``ps`` and shell history): it is read
from a prompt, or from stdin with ``--password-stdin``.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from paygate.commands import EXIT_CONFIG, CommandError, database_url, print_listing, run_with_session
from paygate.commands.parsing import Commands, add_actions, add_command
from shared.models import User


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


def _view(user: User) -> dict[str, Any]:
    return {
        "id": str(user.id),
        "email": user.email,
        "role": user.role,
        "active": user.is_active,
        "created_at": user.created_at.isoformat(),
    }


def run_list(args: argparse.Namespace) -> int:
    from gateway.users.services import list_users

    url = database_url(args.database_url)
    active = True if args.active else False if args.disabled else None

    async def work(session: AsyncSession) -> list[dict[str, Any]]:
        return [_view(user) for user in await list_users(session, active=active)]

    views = run_with_session(url, work)
    if print_listing(views, args.json, "no users"):
        return 0
    print(f"{'id':36}  {'role':5}  {'active':6}  email")
    for view in views:
        print(f"{view['id']:36}  {view['role']:5}  {'yes' if view['active'] else 'no':6}  {view['email']}")
    return 0


def run_set_active(args: argparse.Namespace) -> int:
    from gateway.users.services import set_user_active

    url = database_url(args.database_url)

    async def work(session: AsyncSession) -> tuple[str, bool]:
        user, changed = await set_user_active(session, args.email, active=args.enable)
        return user.email, changed

    email, changed = run_with_session(url, work)
    state = "enabled" if args.enable else "disabled"
    print(f"{state} user {email}" if changed else f"user {email} was already {state}")
    return 0


def add_parsers(commands: Commands) -> None:
    for name, role, text in (
        ("create-user", "user", "create a user who can log in and pay"),
        ("create-admin", "admin", "create an administrator (partners, deliveries, every payment)"),
    ):
        parser = add_command(
            commands,
            name,
            text,
            f"{text[0].upper()}{text[1:]}. The password is prompted for, or read from stdin "
            "with --password-stdin (e.g. `printf '%s\\n' \"$PW\" | paygate "
            f"{name} EMAIL --password-stdin`). Exit 1 if the email is taken.",
            handler=run_create_user,
            role=role,
        )
        parser.add_argument("email")
        parser.add_argument(
            "--password-stdin", action="store_true", help="read the password from the first line of stdin"
        )
        parser.add_argument("--database-url", default=None, help="instead of PAYGATE_DATABASE_URL")
        if role == "user":
            parser.add_argument("--role", choices=["user", "admin"], default="user")

    users = add_command(
        commands,
        "users",
        "list, disable or enable the users who log in",
        "The gateway's accounts (create them with create-user / create-admin). A disabled "
        "user cannot log in, and their unexpired tokens are refused within "
        "GATEWAY_DISABLED_USER_CHECK_SECONDS (5 s).",
    )
    actions = add_actions(users)
    listing = add_command(
        actions,
        "list",
        "list users (never their password hashes)",
        "List users, oldest first.",
        handler=run_list,
        database_option=True,
        json_option=True,
    )
    only = listing.add_mutually_exclusive_group()
    only.add_argument("--active", action="store_true", help="only active users")
    only.add_argument("--disabled", action="store_true", help="only disabled users")
    for name, text, description, enable in (
        (
            "disable",
            "stop a user from logging in and from using the tokens they hold",
            "Disable a user: login is refused, and their unexpired tokens are refused within "
            "GATEWAY_DISABLED_USER_CHECK_SECONDS. Their payments are kept. Exit 1 if no user has this email.",
            False,
        ),
        (
            "enable",
            "let a disabled user log in again",
            "Enable a disabled user. Exit 1 if no user has this email.",
            True,
        ),
    ):
        parser = add_command(
            actions, name, text, description, handler=run_set_active, database_option=True, enable=enable
        )
        parser.add_argument("email")
