"""The ``paygate`` command: one entry point for developers and operators (``paygate --help``).

Expected failures (bad configuration, database unreachable, duplicate email, unknown partner) print
``paygate: error: …`` and exit non-zero without a traceback; see ``paygate.commands`` for the codes.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from paygate.commands import EXIT_CONFIG, CommandError
from paygate.commands.parsing import Commands, add_command
from paygate.config_check import SETTINGS_ERRORS, ConfigError, describe_settings_error

# --flag: (environment variable, default). The variables are read when `paygate dev` runs, not while
# the parser is built, so a bad value is a message for that command only.
DEV_PORTS = {
    "gateway_port": ("GATEWAY_PORT", 8000),
    "payment_ms_port": ("PAYMENT_MS_PORT", 8001),
    "db_port": ("PAYGATE_DEV_DB_PORT", 54329),
    "demo_receiver_port": ("PAYGATE_DEV_DEMO_RECEIVER_PORT", 8009),
    "gateway_internal_port": ("GATEWAY_INTERNAL_PORT", 8010),
}


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not a port number") from None
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError("not a port number (1-65535)")
    return port


def _dev_port(args: argparse.Namespace, dest: str) -> int:
    given: int | None = getattr(args, dest)
    if given is not None:
        return given
    variable, default = DEV_PORTS[dest]
    value = os.environ.get(variable, "").strip()
    if not value:
        return default
    try:
        return _port(value)
    except argparse.ArgumentTypeError:
        raise CommandError(f"{variable} is not a port number (1-65535)", EXIT_CONFIG) from None


def _add_dev(commands: Commands) -> None:
    dev = add_command(
        commands,
        "dev",
        "run the whole system locally (embedded PostgreSQL by default)",
        "What `make dev` runs: an embedded PostgreSQL (unless PAYGATE_DATABASE_URL is set), "
        "migrations, demo data, the gateway, payment_ms and the dispatcher on 127.0.0.1 (and, with "
        "--demo-receiver, a demo partner endpoint). Ctrl-C stops everything.",
        handler=_run_dev,
    )
    helps = {
        "gateway_port": "gateway port",
        "payment_ms_port": "payment_ms port",
        "db_port": "port of the embedded PostgreSQL (ignored when PAYGATE_DATABASE_URL is set)",
        "demo_receiver_port": "port of the demo receiver (with --demo-receiver)",
        "gateway_internal_port": "the gateway's internal listener (/internal/*, /metrics; never public)",
    }
    for dest, (variable, default) in DEV_PORTS.items():
        dev.add_argument(
            "--" + dest.replace("_", "-"),
            type=_port,
            default=None,
            help=f"{helps[dest]} (default: ${variable}, else {default})",
        )
    dev.add_argument(
        "--demo-receiver",
        action="store_true",
        help="also run `paygate demo-receiver`, registered as the partner demo-receiver: it verifies "
        "every webhook and its lines are printed here (`make dev DEMO_RECEIVER=1`)",
    )


def _run_dev(args: argparse.Namespace) -> int:
    from paygate.dev import DevPorts, run_dev

    ports = DevPorts(*(_dev_port(args, dest) for dest in DEV_PORTS))
    return run_dev(ports, demo_receiver=args.demo_receiver)


def build_parser() -> argparse.ArgumentParser:
    from paygate.commands import config, db, deliveries, demo, docs, migrate, partners, serve, users

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
    db.add_parser(commands)
    serve.add_parsers(commands)
    users.add_parsers(commands)
    partners.add_parser(commands)
    deliveries.add_parser(commands)
    demo.add_parser(commands)
    config.add_parsers(commands)
    docs.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except CommandError as exc:
        print(f"paygate: error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except ConfigError as exc:
        print(f"paygate: error: {'; '.join(exc.problems)}", file=sys.stderr)
        return EXIT_CONFIG
    except SETTINGS_ERRORS as exc:  # a setting read outside the checks above: still no traceback
        print(f"paygate: error: {'; '.join(describe_settings_error(exc))}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
