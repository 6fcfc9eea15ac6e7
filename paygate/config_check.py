"""Start-up configuration checks: outside dev, a missing or weak secret stops the process.

Messages name the setting (its environment variable), never its value. Each service checks what it
uses: ``enforce_startup_config("gateway")`` is the one line in ``create_app()`` / the dispatcher entry.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from pydantic import SecretStr, ValidationError
from pydantic_settings import SettingsError

from shared.settings import PaygateSettings, get_paygate_settings

if TYPE_CHECKING:
    from gateway.settings import GatewaySettings
    from payment_ms.dispatcher.settings import DispatcherSettings
    from payment_ms.settings import PaymentSettings

T = TypeVar("T")

MIN_SECRET_LENGTH = 32
MIN_DISTINCT_CHARACTERS = 10
WEAK_MARKERS = ("change-me", "changeme", "change_me", "example", "placeholder", "your-", "xxxx")
SERVICES = ("gateway", "payment-ms", "dispatcher")
EXIT_BAD_CONFIG = 2
EVENTS_URL_MISSING = (
    "GATEWAY_INTERNAL_EVENTS_URL is not set: reservations would not follow payment events (a payer who "
    "never comes back would leave a paid reservation unpaid); set it to where the dispatcher reaches "
    "this gateway's /internal/payment-events, or to 'off' to opt out on purpose"
)


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


class ConfigError(Exception):
    """Configuration that must not run: ``problems`` are one line each, naming the setting."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _value(secret: SecretStr | str | None) -> str:
    if secret is None:
        return ""
    return secret.get_secret_value() if isinstance(secret, SecretStr) else secret


def weak_secret_reason(value: str, *, default: str = "", min_length: int = MIN_SECRET_LENGTH) -> str | None:
    """Why ``value`` is not acceptable as a production secret, or None."""
    if not value:
        return "is not set"
    if default and value == default:
        return "still has its development default"
    lowered = value.lower()
    if any(marker in lowered for marker in WEAK_MARKERS):
        return "looks like a placeholder"
    if len(value) < min_length:
        return f"is shorter than {min_length} characters"
    if len(set(value)) < MIN_DISTINCT_CHARACTERS:
        return "is not random enough"
    return None


def _field_default(settings: object, name: str) -> str:
    field = type(settings).model_fields.get(name)  # type: ignore[attr-defined]
    if field is None or field.is_required():
        return ""
    return _value(field.get_default(call_default_factory=True))


def _check_secret(problems: list[str], settings: object, name: str, env_name: str) -> None:
    reason = weak_secret_reason(_value(getattr(settings, name, None)), default=_field_default(settings, name))
    if reason:
        problems.append(f"{env_name} {reason}")


def _paygate_problems(settings: PaygateSettings) -> list[str]:
    problems: list[str] = []
    _check_secret(problems, settings, "service_token", "PAYGATE_SERVICE_TOKEN")
    if not settings.database_url:
        problems.append("PAYGATE_DATABASE_URL is not set")
    return problems


def database_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be paygate's database URL (never quoting it: it may hold a password), or None."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from shared.db import normalize_database_url

    try:
        parsed = make_url(normalize_database_url(url))
    except (ArgumentError, ValueError):
        return "is not a database URL (postgresql://user:password@host:5432/paygate)"
    if parsed.drivername != "postgresql+asyncpg":
        return (
            f"is not a PostgreSQL URL (scheme {parsed.drivername!r}; expected "
            "postgresql://user:password@host:5432/paygate)"
        )
    return None


def load_settings(factory: Callable[[], T], prefix: str) -> T:
    """``factory()``, with a bad value turned into ``ConfigError`` naming its variable."""
    try:
        return factory()
    except SETTINGS_ERRORS as exc:
        raise ConfigError(describe_settings_error(exc, prefix)) from None


def _gateway_settings() -> GatewaySettings:
    from gateway.settings import get_gateway_settings

    return load_settings(get_gateway_settings, "GATEWAY_")


def _payment_settings() -> PaymentSettings:
    def load() -> PaymentSettings:
        from payment_ms.settings import settings  # built when the module is imported

        return settings

    return load_settings(load, "PAYMENT_MS_")


def dispatcher_settings() -> DispatcherSettings:
    """The dispatcher's settings (built here, not at import time, so a bad value is a message)."""
    from payment_ms.dispatcher.settings import DispatcherSettings

    return load_settings(DispatcherSettings, "DISPATCHER_")


def _gateway_problems() -> list[str]:
    settings = _gateway_settings()
    problems: list[str] = []
    if settings.jwt_algorithm.startswith("HS"):
        _check_secret(problems, settings, "jwt_secret", "GATEWAY_JWT_SECRET")
    elif not settings.jwt_public_key.strip():
        problems.append(
            f"GATEWAY_JWT_PUBLIC_KEY is not set (GATEWAY_JWT_ALGORITHM is {settings.jwt_algorithm})"
        )
    if not settings.internal_events_url:
        problems.append(EVENTS_URL_MISSING)
    return problems


MOCK_PROVIDER_REFUSED = (
    "PAYMENT_MS_DEFAULT_PROVIDER is mock: anyone who reaches its checkout page marks a payment paid, for "
    "free; set stripe (or cash), or PAYMENT_MS_ALLOW_MOCK_PROVIDER=true for a demo"
)


def _payment_ms_problems() -> list[str]:
    settings = _payment_settings()
    problems: list[str] = []
    if settings.default_provider == "mock" and not settings.allow_mock_provider:
        problems.append(MOCK_PROVIDER_REFUSED)
    key = _value(settings.stripe_secret_key)
    if settings.default_provider == "stripe" or key:
        if not key:
            problems.append("PAYMENT_MS_STRIPE_SECRET_KEY is not set (the Stripe provider is on)")
        elif not key.startswith(("sk_test_", "sk_live_", "rk_test_", "rk_live_")):
            problems.append("PAYMENT_MS_STRIPE_SECRET_KEY is not a Stripe secret key (sk_… or rk_…)")
        webhook_secrets = [_value(secret) for secret in settings.stripe_webhook_secrets]
        if not webhook_secrets:
            problems.append("PAYMENT_MS_STRIPE_WEBHOOK_SECRETS is not set (the Stripe provider is on)")
        elif not all(secret.startswith("whsec_") and len(secret) > 20 for secret in webhook_secrets):
            problems.append("PAYMENT_MS_STRIPE_WEBHOOK_SECRETS holds a value that is not a whsec_… secret")
    return problems


def _dispatcher_problems() -> list[str]:
    dispatcher_settings()  # its secrets are PAYGATE_'s; its own values must parse
    return []


_SERVICE_CHECKS: dict[str, Callable[[], list[str]]] = {
    "gateway": _gateway_problems,
    "payment-ms": _payment_ms_problems,
    "dispatcher": _dispatcher_problems,
}

# Building a service's settings is enough to find its invalid values (in dev too).
_SERVICE_SETTINGS: dict[str, Callable[[], object]] = {
    "gateway": _gateway_settings,
    "payment-ms": _payment_settings,
    "dispatcher": dispatcher_settings,
}


def describe_validation_error(exc: ValidationError, env_prefix: str = "") -> list[str]:
    """pydantic's errors without the offending input (it may be a secret)."""
    lines = []
    for error in exc.errors(include_input=False, include_url=False):
        location = "_".join(str(part) for part in error["loc"]).upper()
        lines.append(f"{env_prefix}{location}: {error['msg']}")
    return lines


_SETTINGS_ERROR_FIELD = re.compile(r'field "([^"]+)"')


def _guess_prefix(field: str) -> str:
    """For an error whose class is unknown: the prefix of a settings class that has ``field`` and
    whose variable is set (else the first class that has it)."""
    from paygate.config_reference import SETTINGS_MODULES, _settings_classes

    candidates: list[str] = []
    for module, _owner in SETTINGS_MODULES:
        try:
            classes = _settings_classes(module)
        except Exception:  # noqa: S112 (a module that cannot import says nothing here)
            continue
        for cls in classes:
            prefix = SETTINGS_PREFIXES.get(cls.__name__)
            if prefix and field in cls.model_fields:
                candidates.append(prefix)
    for prefix in candidates:
        if f"{prefix}{field}".upper() in {key.upper() for key in os.environ}:
            return prefix
    return candidates[0] if candidates else ""


def describe_settings_error(exc: Exception, env_prefix: str | None = None) -> list[str]:
    """One line per bad setting, naming its variable and never its value."""
    if isinstance(exc, ValidationError):
        prefix = SETTINGS_PREFIXES.get(exc.title, "") if env_prefix is None else env_prefix
        return describe_validation_error(exc, prefix)
    match = _SETTINGS_ERROR_FIELD.search(str(exc))
    if match is None:
        return ["a setting could not be read (see .env.example for the expected formats)"]
    field = match.group(1)
    prefix = _guess_prefix(field) if env_prefix is None else env_prefix
    return [f"{prefix}{field}".upper() + ': cannot be parsed (lists and objects are JSON, e.g. ["a", "b"])']


def invalid_values(service: str, settings: PaygateSettings | None = None) -> list[str]:
    """The settings ``service`` reads that cannot even be parsed (empty when they all can)."""
    problems: list[str] = []
    if settings is None:
        try:
            settings = PaygateSettings()
        except SETTINGS_ERRORS as exc:
            problems += describe_settings_error(exc, "PAYGATE_")
    for name in ("database_url", "gateway_database_url", "payment_ms_database_url"):
        value = getattr(settings, name) if settings else ""
        url_problem = database_url_problem(value) if value else None
        if url_problem:
            problems.append(f"PAYGATE_{name.upper()} {url_problem}")
    try:
        _SERVICE_SETTINGS[service]()
    except ConfigError as exc:
        problems += exc.problems
    return problems


def config_problems(service: str, settings: PaygateSettings | None = None) -> list[str]:
    """What stops ``service`` outside dev (empty when it may start). Invalid values are reported too."""
    if service not in _SERVICE_CHECKS:
        raise ValueError(f"unknown service {service!r}")
    invalid = invalid_values(service, settings)
    if invalid:
        return invalid
    try:
        return [*_paygate_problems(settings or PaygateSettings()), *_SERVICE_CHECKS[service]()]
    except ConfigError as exc:
        return exc.problems


def check_startup(service: str, settings: PaygateSettings | None = None) -> None:
    """Raise ``ConfigError`` when ``service`` must not start with this configuration: a value that
    cannot be parsed (in every mode), or, outside dev, a missing or weak secret."""
    try:
        settings = settings or get_paygate_settings()
    except SETTINGS_ERRORS as exc:
        raise ConfigError(describe_settings_error(exc, "PAYGATE_")) from None
    invalid = invalid_values(service, settings)
    if invalid:
        raise ConfigError(invalid)
    if settings.is_dev:
        return
    problems = config_problems(service, settings)
    if problems:
        raise ConfigError(problems)


def format_problems(service: str, problems: list[str]) -> str:
    lines = [f"paygate: {service} refuses to start with this configuration:"]
    lines += [f"  - {problem}" for problem in problems]
    lines.append("  (set them in the environment or .env; see .env.example)")
    return "\n".join(lines)


def enforce_startup_config(service: str) -> None:
    """For app factories and worker entry points: print why and exit instead of running unsafe."""
    try:
        check_startup(service)
    except ConfigError as exc:
        print(format_problems(service, exc.problems), file=sys.stderr, flush=True)
        raise SystemExit(EXIT_BAD_CONFIG) from None
