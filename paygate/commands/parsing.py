"""How a ``paygate`` command is declared: its ``--help`` texts, the options many commands share and
the handler it runs (``paygate.cli`` builds the whole parser from each module's ``add_parser``)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

Commands = argparse._SubParsersAction
Handler = Callable[[argparse.Namespace], int]


def add_command(
    commands: Commands,
    name: str,
    summary: str,
    description: str | None = None,
    *,
    handler: Handler | None = None,
    database_option: bool = False,
    json_option: bool = False,
    **defaults: Any,
) -> argparse.ArgumentParser:
    """A command, or an ACTION of one: its ``--help`` texts, the options many commands take
    (``--database-url``, ``--json``) and the handler it runs (``defaults`` go with it)."""
    parser = commands.add_parser(name, help=summary, description=description)
    if database_option:
        parser.add_argument("--database-url", default=None, help="instead of PAYGATE_DATABASE_URL")
    if json_option:
        parser.add_argument("--json", action="store_true", help="print JSON")
    if handler is not None:
        parser.set_defaults(handler=handler, **defaults)
    return parser


def add_actions(parser: argparse.ArgumentParser) -> Commands:
    """Where a command's ACTIONs go (``paygate partners add|list|…``)."""
    return parser.add_subparsers(dest="action", required=True, metavar="ACTION")
