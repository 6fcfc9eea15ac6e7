"""``paygate docs readme [--check]``: README.md's generated parts (the partner guide's event table)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from paygate.commands import EXIT_REFUSED, CommandError
from paygate.commands.parsing import Commands, add_actions, add_command
from paygate.processes import PROJECT_ROOT
from shared.events import readme_table

README = PROJECT_ROOT / "README.md"
_SECTION = re.compile(r"(<!-- event-catalog[^>]*-->\n)(.*?)(<!-- /event-catalog -->)", re.S)


def render_readme(text: str) -> str:
    """``text`` with the event table between its ``event-catalog`` markers made from the catalog."""
    if not _SECTION.search(text):
        raise CommandError("README.md has no <!-- event-catalog --> markers", EXIT_REFUSED)
    return _SECTION.sub(lambda m: m.group(1) + readme_table() + m.group(3), text, count=1)


def run_readme(args: argparse.Namespace) -> int:
    path = Path(args.path)
    text = path.read_text()
    rendered = render_readme(text)
    if args.check:
        if rendered != text:
            raise CommandError(f"{path}'s event table differs from the catalog: run `paygate docs readme`", 1)
        print(f"{path}: up to date")
        return 0
    if rendered != text:
        path.write_text(rendered)
    print(f"{path}: {'updated' if rendered != text else 'up to date'}")
    return 0


def add_parser(commands: Commands) -> None:
    docs = add_command(commands, "docs", "write the generated parts of the documentation")
    readme = add_command(
        add_actions(docs),
        "readme",
        "write README.md's event table from the event catalog (shared/events.py)",
        "Rewrite the partner guide's event table in README.md from the event catalog. "
        "--check: exit 1 when it differs, changing nothing.",
        handler=run_readme,
    )
    readme.add_argument("--check", action="store_true", help="only check")
    readme.add_argument("--path", default=str(README), help=argparse.SUPPRESS)
