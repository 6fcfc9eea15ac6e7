"""Run the ``paygate`` command as an operator would: a subprocess with its own environment."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

# Settings of the developer's shell must not leak into the command under test.
_OUR_PREFIXES = ("PAYGATE_", "GATEWAY_", "PAYMENT_MS_", "DISPATCHER_", "GRANIAN_")


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def output(self) -> str:
        return self.out + self.err


def clean_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OUR_PREFIXES)}
    # No .paygate/dev.json of a running `make dev` is found from here.
    env["PAYGATE_DEV_STATE_DIR"] = str(tmp_path / "no-dev-state")
    env.update(overrides)
    return env


Paygate = Callable[..., Result]


@pytest.fixture
def paygate(database_url: str, tmp_path: Path) -> Paygate:
    """``paygate(*args, input=None, **env)`` against the test database, run from an empty folder
    (so no ``.env`` is read)."""

    def run(*args: str, input: str | None = None, **env: str) -> Result:
        merged = {"PAYGATE_DATABASE_URL": database_url, "PAYGATE_ENV": "test", **env}
        proc = subprocess.run(
            [sys.executable, "-m", "paygate", *args],
            cwd=tmp_path,
            env=clean_env(tmp_path, **merged),
            input=input,
            capture_output=True,
            text=True,
            timeout=60,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    return run


def _clear_settings_caches() -> None:
    from gateway.settings import get_gateway_settings
    from shared.settings import get_paygate_settings

    get_gateway_settings.cache_clear()
    get_paygate_settings.cache_clear()


@pytest.fixture
def paygate_inproc(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Paygate:
    """The same, in this process (no interpreter start-up): for the many small failure paths.
    Only for sync tests: the command runs its own event loop."""
    from paygate.cli import main

    def run(*args: str, input: str | None = None, **env: str) -> Result:
        merged = {"PAYGATE_DATABASE_URL": database_url, "PAYGATE_ENV": "test", **env}
        with monkeypatch.context() as patch:
            for key in [k for k in os.environ if k.startswith(_OUR_PREFIXES)]:
                patch.delenv(key)
            for key, value in clean_env(tmp_path, **merged).items():
                patch.setenv(key, value)
            patch.chdir(tmp_path)
            patch.setattr(sys, "stdin", io.StringIO(input or ""))
            capsys.readouterr()
            _clear_settings_caches()
            try:
                code = main(list(args))
            except SystemExit as exc:
                code = int(exc.code or 0)
            finally:
                _clear_settings_caches()  # nothing read under this environment outlives it
            captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def assert_clean_failure(result: Result, code: int, *fragments: str) -> None:
    """An expected failure: the right code, a reason, no traceback."""
    assert result.code == code, result.output
    assert "Traceback" not in result.output, result.output
    assert any(line.startswith("paygate: error: ") for line in result.err.splitlines()), result.output
    for fragment in fragments:
        assert fragment in result.err, result.output
