"""Start-up configuration checks: outside dev, a missing or weak secret stops the process.

Messages name the setting (its environment variable), never its value. Each service checks what it
uses: ``enforce_startup_config("gateway")`` is the one line in ``create_app()`` / the dispatcher entry.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from pydantic import SecretStr, ValidationError

from shared.settings import PaygateSettings, get_paygate_settings

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


def _gateway_problems() -> list[str]:
    from gateway.settings import get_gateway_settings

    settings = get_gateway_settings()
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


def _payment_ms_problems() -> list[str]:
    from payment_ms.settings import settings

    problems: list[str] = []
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


_SERVICE_CHECKS: dict[str, Callable[[], list[str]]] = {
    "gateway": _gateway_problems,
    "payment-ms": _payment_ms_problems,
    "dispatcher": lambda: [],
}


def describe_validation_error(exc: ValidationError, env_prefix: str = "") -> list[str]:
    """pydantic's errors without the offending input (it may be a secret)."""
    lines = []
    for error in exc.errors(include_input=False, include_url=False):
        location = "_".join(str(part) for part in error["loc"]).upper()
        lines.append(f"{env_prefix}{location}: {error['msg']}")
    return lines


def config_problems(service: str, settings: PaygateSettings | None = None) -> list[str]:
    """What stops ``service`` outside dev (empty when it may start). Invalid values are reported too."""
    if service not in _SERVICE_CHECKS:
        raise ValueError(f"unknown service {service!r}")
    try:
        settings = settings or PaygateSettings()
        return [*_paygate_problems(settings), *_SERVICE_CHECKS[service]()]
    except ValidationError as exc:
        return describe_validation_error(exc, _prefix_of(exc.title))


def _prefix_of(class_name: str) -> str:
    prefixes = {
        "PaygateSettings": "PAYGATE_",
        "GatewaySettings": "GATEWAY_",
        "PaymentSettings": "PAYMENT_MS_",
        "DispatcherSettings": "DISPATCHER_",
    }
    return prefixes.get(class_name, "")


def check_startup(service: str, settings: PaygateSettings | None = None) -> None:
    """Raise ``ConfigError`` when ``service`` must not start with this configuration."""
    try:
        settings = settings or get_paygate_settings()
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, "PAYGATE_")) from None
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
