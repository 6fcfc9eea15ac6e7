"""``paygate serve`` and ``paygate dispatcher``: check the configuration, then become the server.

Both ``exec`` the real process (granian, the dispatcher) so that in a container it is PID 1 and gets
SIGTERM directly; nothing of this command stays in between.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys

from paygate.commands import EXIT_CONFIG, CommandError
from paygate.commands.parsing import Commands, add_command
from paygate.config_check import (
    SETTINGS_ERRORS,
    ConfigError,
    check_startup,
    describe_settings_error,
    format_problems,
)
from paygate.processes import ASGI_SERVICES, asgi_command


def _require_valid_config(service: str) -> None:
    try:
        check_startup(service)
    except ConfigError as exc:
        raise CommandError(
            format_problems(service, exc.problems).removeprefix("paygate: "), EXIT_CONFIG
        ) from None


def _default_bind(service: str) -> tuple[str, int]:
    try:
        if service == "gateway":
            from gateway.settings import get_gateway_settings

            gateway_settings = get_gateway_settings()
            return gateway_settings.host, gateway_settings.port
        from payment_ms.settings import PaymentSettings

        payment_settings = PaymentSettings()
        return payment_settings.host, payment_settings.port
    except SETTINGS_ERRORS as exc:
        prefix = "GATEWAY_" if service == "gateway" else "PAYMENT_MS_"
        raise CommandError("; ".join(describe_settings_error(exc, prefix)), EXIT_CONFIG) from None


def serve_command(args: argparse.Namespace) -> list[str]:
    """The granian command line ``paygate serve`` execs (split out so it can be tested). Where the
    services log JSON (outside dev, or ``PAYGATE_LOG_JSON``), granian's own lines are JSON too."""
    from paygate.granian_logging import write_json_log_config
    from shared.settings import get_paygate_settings

    host, port = _default_bind(args.service)
    log_config = write_json_log_config(args.service) if get_paygate_settings().json_logs else None
    return asgi_command(
        args.service, args.host or host, args.port or port, workers=args.workers, log_config=log_config
    )


def run_serve(args: argparse.Namespace) -> int:
    _require_valid_config(args.service)
    command = serve_command(args)
    if args.print_command:
        print(" ".join(command))
        return 0
    sys.stdout.flush()
    os.execv(command[0], command)  # noqa: S606 (our own interpreter, fixed arguments)


def run_dispatcher(_args: argparse.Namespace) -> int:
    if importlib.util.find_spec("payment_ms.dispatcher") is None:
        raise CommandError("this build has no dispatcher (payment_ms.dispatcher)", EXIT_CONFIG)
    _require_valid_config("dispatcher")
    command = [sys.executable, "-m", "payment_ms.dispatcher"]
    sys.stdout.flush()
    os.execv(command[0], command)  # noqa: S606


def add_parsers(commands: Commands) -> None:
    serve = add_command(
        commands,
        "serve",
        "run the gateway or payment_ms with production server settings (granian)",
        "Check the configuration (outside dev, weak secrets refuse to start), then run "
        "SERVICE under granian. Defaults for --host/--port come from GATEWAY_HOST/GATEWAY_PORT or "
        "PAYMENT_MS_HOST/PAYMENT_MS_PORT. granian's own GRANIAN_* variables tune the rest.",
        handler=run_serve,
    )
    serve.add_argument("service", choices=sorted(ASGI_SERVICES), help="which service")
    serve.add_argument("--host", default=None, help="bind address (in a container: 0.0.0.0)")
    serve.add_argument("--port", type=int, default=None, help="bind port")
    serve.add_argument(
        "--workers", type=int, default=1, help="worker processes (default 1; about one per CPU core)"
    )
    serve.add_argument(
        "--print-command", action="store_true", help="print the server command line instead of running it"
    )

    add_command(
        commands,
        "dispatcher",
        "run the webhook dispatcher (run several: they share the work)",
        "Deliver payment events to partners as signed webhooks. Any number can run at once, "
        "on any number of machines. No arguments: every setting comes from the environment or .env "
        "(PAYGATE_DATABASE_URL, DISPATCHER_*; see .env.example). Exit 2 on bad configuration, 3 when "
        "the database cannot be reached at start.",
        handler=run_dispatcher,
    )
