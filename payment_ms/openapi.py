"""What payment_ms's OpenAPI document says about the service as a whole."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from payment_ms.settings import PaymentSettings

DESCRIPTION = """\
paygate's internal payment service: it persists payments, talks to the provider (mock, Stripe, cash),
enforces the payment state machine and idempotency, and records an event for every change, which its
dispatcher delivers to partners (the `webhooks` section). Only the gateway and paygate's own processes
call it; it is not meant to be reachable from the internet.

**Authentication.** Every `/api/*` route needs the service token in `X-Service-Token` (the
`ServiceToken` scheme, `PAYGATE_SERVICE_TOKEN`), compared in constant time. Stripe's webhooks are
authenticated by `Stripe-Signature`; the hosted mock checkout page is for payers' browsers.

**Idempotency.** `POST /api/payments` requires `Idempotency-Key` (1-255 characters); verify, cancel,
capture, confirm-cash and refunds accept an optional one. The same key with the same request answers
the original response byte for byte; with another request 422; while the first is in flight 409.
Keys are kept at least `PAYMENT_MS_IDEMPOTENCY_TTL_HOURS` (24 h).

**Errors** are `application/problem+json` (RFC 9457); a database outage is 503 with `Retry-After`.
**Money** is integer minor units plus an ISO 4217 currency, at most `PAYGATE_MAX_AMOUNT`."""

# The error statuses payment_ms handlers document (``shared.problems.problem_responses``).
INPUT = (400,)  # malformed JSON, a missing or invalid parameter, header or field
SERVICE = (401,)  # require_service_token: no or a wrong X-Service-Token
UNAVAILABLE = (503,)  # the database (or the provider) is unavailable: Retry-After
WRITE = (409, 422)  # 409: a concurrent request holds the key or the row; 422: refused input or key reuse
PROVIDER = (502,)  # the provider answered something inconsistent
READ = (*INPUT, *SERVICE, *UNAVAILABLE)  # a list, or figures
READ_ONE = (*INPUT, *SERVICE, 404, *UNAVAILABLE)  # one row by its id: 404 when there is none


def enabled_providers(settings: PaymentSettings) -> list[str]:
    """The providers a new payment may use here (``payment_ms.payments.creation`` refuses the rest)."""
    enabled = ["cash"]
    if settings.allow_mock_provider or settings.paygate.is_dev:
        enabled.append("mock")
    if settings.stripe_secret_key.get_secret_value():
        enabled.append("stripe")
    return sorted(enabled)


def payment_rules(settings: PaymentSettings) -> Callable[[dict[str, Any]], None]:
    """``PaymentCreate`` as this deployment accepts it: its providers, and the rules across fields
    (cash is never captured manually; Stripe needs a ``return_url``), so that a body the document
    allows is a body ``createPayment`` takes."""
    providers = enabled_providers(settings)

    def chosen(provider: str) -> dict[str, Any]:
        named = {"required": ["provider"], "properties": {"provider": {"const": provider}}}
        if provider != settings.default_provider:
            return named
        unnamed = {
            "anyOf": [{"not": {"required": ["provider"]}}, {"properties": {"provider": {"type": "null"}}}]
        }
        return {"anyOf": [named, unnamed]}

    rules = [
        {
            "if": chosen("cash"),
            "then": {
                "not": {"required": ["capture_method"], "properties": {"capture_method": {"const": "manual"}}}
            },
        },
        {
            "if": chosen("stripe"),
            "then": {"required": ["return_url"], "properties": {"return_url": {"type": "string"}}},
        },
    ]

    def finalize(document: dict[str, Any]) -> None:
        schema = document.get("components", {}).get("schemas", {}).get("PaymentCreate")
        if schema is None:
            return
        schema["properties"]["provider"] = {
            "anyOf": [{"enum": providers}, {"type": "null"}],
            "default": None,
            "description": f"Enabled here: {', '.join(providers)}; none: {settings.default_provider}",
        }
        schema["allOf"] = rules

    return finalize
