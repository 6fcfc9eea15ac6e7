"""What ``paygate config check`` and ``paygate serve`` report about a service's configuration.

The rules live on each service's settings (pydantic validators, ``shared.settings.ServiceSettings``):
values that cannot work refuse in every mode, missing or weak secrets outside dev. This module only
builds a service's settings and turns what they refuse into lines naming the variable, never its value.
"""

from __future__ import annotations

import os
from typing import Any

from pydantic_settings import BaseSettings

from gateway.settings import GatewaySettings
from payment_ms.dispatcher.settings import DispatcherSettings
from payment_ms.settings import PaymentSettings
from shared.settings import PaygateSettings, ServiceSettings, weak_secret_reason
from shared.settings_errors import (
    SETTINGS_ERRORS,
    SETTINGS_PREFIXES,
    ConfigError,
    format_problems,
    load_settings,
)
from shared.settings_errors import describe_settings_error as _describe_settings_error

SERVICES = ("gateway", "payment-ms", "dispatcher")
SETTINGS_CLASSES: dict[str, type[ServiceSettings]] = {
    "gateway": GatewaySettings,
    "payment-ms": PaymentSettings,
    "dispatcher": DispatcherSettings,
}

__all__ = [
    "SERVICES",
    "SETTINGS_ERRORS",
    "ConfigError",
    "check_startup",
    "config_problems",
    "describe_settings_error",
    "dispatcher_settings",
    "format_problems",
    "load_settings",
    "weak_secret_reason",
]


def _guess_prefix(field: str) -> str:
    """For an error whose class is unknown: the prefix of a settings class that has ``field`` and
    whose variable is set (else the first class that has it)."""
    classes: list[type[BaseSettings]] = [PaygateSettings, *SETTINGS_CLASSES.values()]
    candidates = [SETTINGS_PREFIXES[cls.__name__] for cls in classes if field in cls.model_fields]
    for prefix in candidates:
        if f"{prefix}{field}".upper() in {key.upper() for key in os.environ}:
            return prefix
    return candidates[0] if candidates else ""


def describe_settings_error(exc: Exception, env_prefix: str | None = None) -> list[str]:
    """One line per bad setting, naming its variable and never its value."""
    return _describe_settings_error(exc, env_prefix, guess_prefix=_guess_prefix)


def service_settings(service: str, paygate: PaygateSettings | None = None, **values: Any) -> ServiceSettings:
    """``service``'s settings from the environment (``paygate`` and ``values`` given win), or
    ``ConfigError`` with what they refuse."""
    if service not in SETTINGS_CLASSES:
        raise ValueError(f"unknown service {service!r}")
    cls = SETTINGS_CLASSES[service]
    prefix = SETTINGS_PREFIXES[cls.__name__]
    if paygate is None:
        paygate = load_settings(PaygateSettings, "PAYGATE_")
    return load_settings(lambda: cls(paygate=paygate, **values), prefix)


def config_problems(service: str, settings: PaygateSettings | None = None, **values: Any) -> list[str]:
    """What stops ``service`` outside dev, whatever ``PAYGATE_ENV`` says (empty when it may start)."""
    try:
        paygate = settings or load_settings(PaygateSettings, "PAYGATE_")
        service_settings(service, paygate.model_copy(update={"env": "prod"}), **values)
    except ConfigError as exc:
        return exc.problems
    return []


def check_startup(service: str, settings: PaygateSettings | None = None) -> None:
    """Raise ``ConfigError`` when ``service`` must not start with this configuration: a value that
    cannot be used (in every mode), or, outside dev, a missing or weak secret."""
    service_settings(service, settings)


def dispatcher_settings() -> DispatcherSettings:
    settings = service_settings("dispatcher")
    assert isinstance(settings, DispatcherSettings)
    return settings
