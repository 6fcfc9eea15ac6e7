"""Every setting paygate reads, taken from the pydantic settings classes themselves.

``.env.example`` is generated from this (``paygate config env-example``) and a test checks it stays in
step, so the documented names and defaults cannot drift from the code.
"""

from __future__ import annotations

import importlib
import json
import textwrap
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr
from pydantic_settings import BaseSettings, NoDecode
from pydantic_settings.main import SettingsConfigDict

# (module, what reads it). Every BaseSettings subclass defined in these modules is documented.
SETTINGS_MODULES: tuple[tuple[str, str], ...] = (
    ("shared.settings", "every process (gateway, payment_ms, dispatcher, paygate commands)"),
    ("gateway.settings", "the gateway"),
    ("payment_ms.settings", "payment_ms"),
    ("payment_ms.dispatcher.settings", "the dispatcher"),
)

# Read by compose.yaml only (not by the Python code).
COMPOSE_VARIABLES: tuple[tuple[str, str, str], ...] = (
    (
        "POSTGRES_PASSWORD",
        "",
        "Password of the compose PostgreSQL (required: compose refuses to start without).",
    ),
    (
        "POSTGRES_GATEWAY_PASSWORD",
        "",
        "Password of the gateway's own database role paygate_gateway (required; migrate sets it up).",
    ),
    (
        "POSTGRES_PAYMENT_MS_PASSWORD",
        "",
        "Password of payment_ms's own database role paygate_payment_ms (required, like the one above).",
    ),
    ("PAYGATE_IMAGE", "paygate:latest", "Image tag compose builds and runs."),
    ("PAYGATE_PUBLISHED_PORT", "8000", "Host port where the gateway is published."),
    (
        "PAYGATE_CHECKOUT_PUBLISHED_PORT",
        "8002",
        "Host port of the mock checkout page (profile `mock-checkout` only; never in production).",
    ),
    (
        "GATEWAY_WORKERS",
        "2",
        "granian worker processes of the gateway container (`paygate serve --workers`).",
    ),
    ("PAYMENT_MS_WORKERS", "2", "granian worker processes of the payment_ms container."),
)


@dataclass(frozen=True)
class SettingDoc:
    env_name: str
    default: str
    description: str
    required: bool
    secret: bool
    owner: str  # "module.Class"


def _settings_classes(module_name: str) -> list[type[BaseSettings]]:
    module = importlib.import_module(module_name)
    return [
        obj
        for obj in vars(module).values()
        if isinstance(obj, type)
        and issubclass(obj, BaseSettings)
        and obj is not BaseSettings
        and obj.__module__ == module_name
        and bool(obj.model_config.get("env_prefix"))  # not a base class (shared.settings.ServiceSettings)
    ]


def _render_default(value: Any, *, comma_separated: bool = False) -> str:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if comma_separated and isinstance(value, list | tuple):
        return ",".join(_render_default(item) for item in value)
    if isinstance(value, list | tuple | set | frozenset | dict):
        return json.dumps(sorted(value) if isinstance(value, set | frozenset) else value)
    if hasattr(value, "value") and not isinstance(value, str | int | float):  # enums
        return str(value.value)
    return str(value)


def settings_docs(cls: type[BaseSettings]) -> list[SettingDoc]:
    config: SettingsConfigDict = cls.model_config
    prefix = config.get("env_prefix", "") or ""
    docs = []
    for name, field in cls.model_fields.items():
        if field.exclude:  # the PAYGATE_ settings a service holds, documented as their own class
            continue
        alias = field.validation_alias if isinstance(field.validation_alias, str) else field.alias
        env_name = (alias or f"{prefix}{name}").upper()
        required = field.is_required()
        comma_separated = any(marker is NoDecode or isinstance(marker, NoDecode) for marker in field.metadata)
        default = (
            ""
            if required
            else _render_default(
                field.get_default(call_default_factory=True), comma_separated=comma_separated
            )
        )
        annotation = str(field.annotation)
        docs.append(
            SettingDoc(
                env_name=env_name,
                default=default,
                description=(field.description or "").strip(),
                required=required,
                secret="SecretStr" in annotation,
                owner=f"{cls.__module__}.{cls.__qualname__}",
            )
        )
    return docs


def all_settings(*, missing_ok: bool = True) -> list[tuple[str, str, list[SettingDoc]]]:
    """``[(module, who reads it, docs)]``; modules not written yet are left out when ``missing_ok``."""
    found = []
    for module_name, reader in SETTINGS_MODULES:
        try:
            classes = _settings_classes(module_name)
        except ModuleNotFoundError as exc:
            if missing_ok and exc.name and module_name.startswith(exc.name):
                continue
            raise
        docs = [doc for cls in classes for doc in settings_docs(cls)]
        found.append((module_name, reader, docs))
    return found


HEADER = """\
# paygate configuration: every setting, its default and what it does.
# Generated from the settings classes by `uv run paygate config env-example > .env.example`.
#
# Copy to `.env` and edit. The services read `.env` from their working directory; compose passes it to
# every container. A commented line shows the default; uncomment it to change the value.
#
# Outside dev (PAYGATE_ENV other than dev/test) start-up refuses missing or weak secrets:
# PAYGATE_SERVICE_TOKEN, GATEWAY_JWT_SECRET, and the Stripe keys when the Stripe provider is on; and the
# mock provider (PAYMENT_MS_DEFAULT_PROVIDER's default) unless PAYMENT_MS_ALLOW_MOCK_PROVIDER=true.
# Make them long and random, e.g.  python -c "import secrets; print(secrets.token_urlsafe(48))"
"""


def render_env_example() -> str:
    lines = [HEADER]
    lines.append("# ---- compose.yaml only ----")
    for name, default, description in COMPOSE_VARIABLES:
        lines.append(f"# {description}")
        required = name.startswith("POSTGRES_") and name.endswith("PASSWORD")
        lines.append(f"{name}={default}" if required else f"# {name}={default}")
    lines.append("")
    for module_name, reader, docs in all_settings(missing_ok=False):
        lines.append(f"# ---- {module_name.replace('.', '/')}.py: read by {reader} ----")
        for doc in docs:
            note = doc.description or ""
            if doc.secret:
                note = f"{note} (secret)".strip()
            if doc.required:
                note = f"{note} (required)".strip()
            lines += textwrap.wrap(note, width=100, initial_indent="# ", subsequent_indent="# ")
            lines.append(f"# {doc.env_name}={doc.default}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def parse_env_file(text: str) -> dict[str, str]:
    """``NAME=value`` lines of a .env file, commented (``# NAME=value``) or not."""
    entries: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip().removeprefix("#").strip()
        name, sep, value = line.partition("=")
        if sep and name and name.replace("_", "").isalnum() and name.upper() == name and " " not in name:
            entries[name] = value
    return entries
