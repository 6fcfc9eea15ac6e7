"""``paygate config check|env-example`` and ``paygate healthcheck``."""

from __future__ import annotations

import argparse

import httpx

from paygate.commands import EXIT_CONFIG, EXIT_REFUSED, CommandError, database_url, run_with_session
from paygate.commands.parsing import Commands, add_actions, add_command
from paygate.config_check import SERVICES, config_problems
from paygate.config_reference import render_env_example


def run_check(args: argparse.Namespace) -> int:
    services = SERVICES if args.service == "all" else (args.service,)
    failed = False
    for service in services:
        problems = config_problems(service)
        if problems:
            failed = True
            print(f"{service}: NOT OK")
            for problem in problems:
                print(f"  - {problem}")
        else:
            print(f"{service}: ok")
    if failed:
        print("(outside dev mode, these stop the service at start-up)")
    return EXIT_CONFIG if failed else 0


def run_env_example(_args: argparse.Namespace) -> int:
    print(render_env_example(), end="")
    return 0


def _dispatcher_ready(timeout: float) -> None:
    """With DISPATCHER_METRICS_PORT, /metrics answers once the dispatcher runs; without, the best
    we can say is that the database its work lives in is reachable."""
    from paygate.config_check import dispatcher_settings

    port = dispatcher_settings().metrics_port
    if port:
        _probe(f"http://127.0.0.1:{port}/metrics", timeout)
        return

    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import AsyncSession

    async def probe(session: AsyncSession) -> None:
        await session.execute(text("SELECT 1"))

    run_with_session(database_url(), probe)


def _probe(url: str, timeout: float) -> None:
    try:
        response = httpx.get(url, timeout=timeout)
    except httpx.HTTPError as exc:
        raise CommandError(f"{url}: {type(exc).__name__}", EXIT_REFUSED) from None
    if response.status_code != 200:
        raise CommandError(f"{url}: HTTP {response.status_code}", EXIT_REFUSED)


def run_healthcheck(args: argparse.Namespace) -> int:
    target: str = args.target
    if target == "dispatcher":
        _dispatcher_ready(args.timeout)
    elif target.startswith(("http://", "https://")):
        _probe(target, args.timeout)
    else:
        raise CommandError("give a URL (http://127.0.0.1:8000/ready) or 'dispatcher'", EXIT_CONFIG)
    return 0


def add_parsers(commands: Commands) -> None:
    config = add_command(commands, "config", "check the configuration, print the settings reference")
    actions = add_actions(config)
    check = add_command(
        actions,
        "check",
        "report missing or weak settings (exit 2 if any)",
        "Report what would stop each service outside dev mode: missing or weak secrets and "
        "invalid values, by setting name (never the value). Checks regardless of PAYGATE_ENV.",
        handler=run_check,
    )
    check.add_argument("service", nargs="?", default="all", choices=["all", *SERVICES])
    add_command(
        actions,
        "env-example",
        "print every setting with its default (the contents of .env.example)",
        handler=run_env_example,
    )

    health = add_command(
        commands,
        "healthcheck",
        "exit 0 when a service is healthy (for container healthchecks)",
        "TARGET is a URL that must answer 200 (e.g. http://127.0.0.1:8000/ready) or 'dispatcher' (its "
        "/metrics answers when DISPATCHER_METRICS_PORT is set, else its database is reachable).",
        handler=run_healthcheck,
    )
    health.add_argument("target")
    health.add_argument("--timeout", type=float, default=3.0)
