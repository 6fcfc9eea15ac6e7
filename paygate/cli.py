"""The ``paygate`` command: one entry point for developers and operators (``paygate --help``).

Expected failures (bad configuration, database unreachable, duplicate email, unknown partner) print
``paygate: error: …`` and exit non-zero without a traceback; see ``paygate.commands`` for the codes.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from paygate.commands import CommandError


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _add_dev(commands: argparse._SubParsersAction) -> None:
    dev = commands.add_parser(
        "dev",
        help="run the whole system locally (embedded PostgreSQL by default)",
        description="What `make dev` runs: an embedded PostgreSQL (unless PAYGATE_DATABASE_URL is set), "
        "migrations, demo data, the gateway and payment_ms on 127.0.0.1. Ctrl-C stops everything.",
    )
    dev.add_argument("--gateway-port", type=int, default=_env_int("GATEWAY_PORT", 8000))
    dev.add_argument("--payment-ms-port", type=int, default=_env_int("PAYMENT_MS_PORT", 8001))
    dev.add_argument(
        "--db-port",
        type=int,
        default=_env_int("PAYGATE_DEV_DB_PORT", 54329),
        help="port of the embedded PostgreSQL (ignored when PAYGATE_DATABASE_URL is set)",
    )
    dev.set_defaults(handler=_run_dev)


def _run_dev(args: argparse.Namespace) -> int:
    from paygate.dev import DevPorts, run_dev

    return run_dev(DevPorts(args.gateway_port, args.payment_ms_port, args.db_port))


def build_parser() -> argparse.ArgumentParser:
    from paygate.commands import config, deliveries, demo, migrate, partners, serve, users

    parser = argparse.ArgumentParser(
        prog="paygate",
        description="paygate: a checkout backend. Every command reads its settings from the environment "
        "and .env (see .env.example); `paygate COMMAND --help` says more.",
        epilog="exit codes: 0 ok, 1 refused (duplicate, not found, invalid), 2 usage or configuration, "
        "3 database unreachable",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_dev(commands)
    migrate.add_parser(commands)
    serve.add_parsers(commands)
    users.add_parsers(commands)
    partners.add_parser(commands)
    deliveries.add_parser(commands)
    demo.add_parser(commands)
    config.add_parsers(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except CommandError as exc:
        print(f"paygate: error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
