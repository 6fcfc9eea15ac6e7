"""Settings errors as lines that name the variable and never its value (it may be a secret), and the
start-up refusal every process prints before it exits 2."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import TypeVar

from pydantic import ValidationError
from pydantic_settings import SettingsError

from shared.settings import CONFIG_ERROR

T = TypeVar("T")

EXIT_BAD_CONFIG = 2

# What a settings class raises for a bad value: pydantic's ValidationError (``abc`` for an int) or
# pydantic-settings' SettingsError (``notjson`` for a list, parsed as JSON before validation).
SETTINGS_ERRORS = (ValidationError, SettingsError)

# class name -> environment prefix, for messages that name the variable
SETTINGS_PREFIXES = {
    "PaygateSettings": "PAYGATE_",
    "GatewaySettings": "GATEWAY_",
    "PaymentSettings": "PAYMENT_MS_",
    "DispatcherSettings": "DISPATCHER_",
}

_SETTINGS_ERROR_FIELD = re.compile(r'field "([^"]+)"')


class ConfigError(Exception):
    """Configuration that must not run: ``problems`` are one line each, naming the setting."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def describe_validation_error(exc: ValidationError, env_prefix: str = "") -> list[str]:
    """pydantic's errors without the offending input; a service's start-up rules are their lines."""
    lines: list[str] = []
    for error in exc.errors(include_input=False, include_url=False):
        if error["type"] == CONFIG_ERROR:
            lines += error.get("ctx", {}).get("problems", [])
            continue
        location = "_".join(str(part) for part in error["loc"]).upper()
        lines.append(f"{env_prefix}{location}: {error['msg']}")
    return lines


def describe_settings_error(
    exc: Exception, env_prefix: str | None = None, *, guess_prefix: Callable[[str], str] | None = None
) -> list[str]:
    """One line per bad setting, naming its variable and never its value. Without ``env_prefix`` the
    class of a ValidationError names it, else ``guess_prefix(field)`` (or nothing)."""
    if isinstance(exc, ValidationError):
        # a service's settings hold PaygateSettings: its errors carry its own class, hence its prefix
        prefix = SETTINGS_PREFIXES.get(exc.title, env_prefix or "")
        return describe_validation_error(exc, prefix)
    match = _SETTINGS_ERROR_FIELD.search(str(exc))
    if match is None:
        return ["a setting could not be read (see .env.example for the expected formats)"]
    field = match.group(1)
    if env_prefix is None:
        env_prefix = guess_prefix(field) if guess_prefix else ""
    return [
        f"{env_prefix}{field}".upper() + ': cannot be parsed (lists and objects are JSON, e.g. ["a", "b"])'
    ]


def load_settings(factory: Callable[[], T], prefix: str | None = None) -> T:
    """``factory()``, with a bad value (or a refused configuration) turned into ``ConfigError``."""
    try:
        return factory()
    except SETTINGS_ERRORS as exc:
        raise ConfigError(describe_settings_error(exc, prefix)) from None


def format_problems(service: str, problems: list[str]) -> str:
    lines = [f"paygate: {service} refuses to start with this configuration:"]
    lines += [f"  - {problem}" for problem in problems]
    lines.append("  (set them in the environment or .env; see .env.example)")
    return "\n".join(lines)


def settings_or_exit(service: str, factory: Callable[[], T], prefix: str | None = None) -> T:
    """For app factories and worker entry points: the settings, or print why not and exit 2."""
    try:
        return load_settings(factory, prefix)
    except ConfigError as exc:
        print(format_problems(service, exc.problems), file=sys.stderr, flush=True)
        raise SystemExit(EXIT_BAD_CONFIG) from None
