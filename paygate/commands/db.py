"""``paygate db roles``: the services' own database roles, granted their own tables only."""

from __future__ import annotations

import argparse
import asyncio
import sys

from paygate.commands import EXIT_CONFIG, CommandError, database_failure, database_url
from paygate.commands.parsing import Commands, add_actions, add_command
from paygate.db_roles import RoleSetupError, ServiceRole, apply_roles, configured_roles
from shared.settings import PaygateSettings


def settings_roles() -> list[ServiceRole]:
    try:
        return configured_roles(PaygateSettings())
    except RoleSetupError as exc:
        raise CommandError(str(exc), EXIT_CONFIG) from None


def set_up_roles(owner_url: str, roles: list[ServiceRole]) -> None:
    """Apply ``roles`` as the owner; expected failures become a ``CommandError``."""
    try:
        asyncio.run(apply_roles(owner_url, roles))
    except RoleSetupError as exc:
        raise CommandError(str(exc), EXIT_CONFIG) from None
    except Exception as exc:
        failure = database_failure(exc, owner_url)
        if failure is None:
            raise
        raise failure from None
    names = ", ".join(f"{role.name} ({role.service})" for role in roles)
    print(f"database roles {names}: each granted its own tables only", file=sys.stderr)


def run_roles(args: argparse.Namespace) -> int:
    roles = settings_roles()
    if not roles:
        raise CommandError(
            "set PAYGATE_GATEWAY_DATABASE_URL and PAYGATE_PAYMENT_MS_DATABASE_URL (each with its own user)",
            EXIT_CONFIG,
        )
    set_up_roles(database_url(args.database_url), roles)
    return 0


def add_parser(commands: Commands) -> None:
    parser = add_command(commands, "db", "database administration (the services' roles)")
    roles = add_command(
        add_actions(parser),
        "roles",
        "create or update the services' roles and grant each its own tables",
        "As the owner (PAYGATE_DATABASE_URL or --database-url), create or update the roles that "
        "PAYGATE_GATEWAY_DATABASE_URL and PAYGATE_PAYMENT_MS_DATABASE_URL name (with their passwords) and "
        "grant each read/write on its own service's tables only. Idempotent; `paygate migrate upgrade` runs "
        "it too when those URLs are set.",
        handler=run_roles,
    )
    roles.add_argument(
        "--database-url", default=None, help="the owner's URL, instead of PAYGATE_DATABASE_URL"
    )
