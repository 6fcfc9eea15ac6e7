"""README.md stays true: its event table is the catalog's, and its CLI lines run without uv on PATH."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from paygate.commands.docs import README, render_readme
from shared.events import CATALOG


def test_readme_event_table_is_the_catalog() -> None:
    text = README.read_text()
    assert render_readme(text) == text, "README's event table differs: run `.venv/bin/paygate docs readme`"
    for name in CATALOG:
        assert f"| `{name}` |" in text


def test_readme_commands_run_without_uv_on_path(tmp_path: Path) -> None:
    """A fresh machine after `make dev` has uv only in .paygate/uv-venv: README says .venv/bin/paygate."""
    text = README.read_text()
    assert not re.search(r"^\s*uv run", text, re.M), "README command lines must not need uv on PATH"
    script = Path(sys.prefix) / "bin" / "paygate"
    assert ".venv/bin/paygate" in text and script.exists()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PAYGATE_ENV": "test"}
    assert not any(Path(d, "uv").exists() for d in env["PATH"].split(os.pathsep))
    run = subprocess.run([str(script), "docs", "readme", "--check"], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "up to date" in run.stdout
