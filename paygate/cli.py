"""The ``paygate`` command."""

from __future__ import annotations

import argparse
import os
import sys


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="paygate", description="paygate: a checkout backend.")
    commands = parser.add_subparsers(dest="command", required=True)

    dev = commands.add_parser("dev", help="run the whole system locally (embedded PostgreSQL by default)")
    dev.add_argument("--gateway-port", type=int, default=_env_int("GATEWAY_PORT", 8000))
    dev.add_argument("--payment-ms-port", type=int, default=_env_int("PAYMENT_MS_PORT", 8001))
    dev.add_argument(
        "--db-port",
        type=int,
        default=_env_int("PAYGATE_DEV_DB_PORT", 54329),
        help="port of the embedded PostgreSQL (ignored when PAYGATE_DATABASE_URL is set)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "dev":
        from paygate.dev import DevPorts, run_dev

        return run_dev(DevPorts(args.gateway_port, args.payment_ms_port, args.db_port))
    return 2


if __name__ == "__main__":
    sys.exit(main())
