"""The error statuses gateway handlers document, each as ``application/problem+json``
(``shared.problems.problem_responses`` renders them; ``shared.problems`` maps every error to its status).

Litestar documents a 400 as plain JSON for every handler that takes a parameter or a body; such a
handler lists ``INPUT`` so that 400 is documented as the problem+json it is.
"""

from __future__ import annotations

from litestar.openapi.spec import SecurityScheme

from shared.security import SERVICE_TOKEN_HEADER

INPUT = (400,)  # malformed JSON, a missing or invalid parameter, header or field (JSON nested too deep)
DATABASE = (503,)  # the database refuses or drops connections (with Retry-After): every route that reads it
# requires_user: no bearer token, an invalid or expired one, a disabled or deleted user
USER = (401, *DATABASE)
ADMIN = (401, 403, *DATABASE)  # requires_admin: as USER, and 403 for a user who is not an admin (now)
SERVICE = (401, *DATABASE)  # requires_service_token (or the signature of a payment event)
UPSTREAM = (502, 503, 504)  # payment_ms answers unexpectedly, is down (or its database is), or is too slow

__all__ = [
    "ADMIN",
    "BEARER_TOKEN",
    "DATABASE",
    "INPUT",
    "INTERNAL_DESCRIPTION",
    "SERVICE",
    "SERVICE_TOKEN",
    "UPSTREAM",
    "USER",
    "WEBHOOK_SIGNATURE",
]

DESCRIPTION = """\
paygate's public API: users log in, see and pay their reservations through a hosted checkout, and
admins manage reservations, payments, refunds and the partners that receive signed webhooks.

**Authentication.** `POST /auth/login` answers a short-lived JWT; send it as
`Authorization: Bearer <token>` (the `BearerToken` scheme). Admin routes (`/admin/*`) need the admin
role (403 otherwise); a disabled or deleted user's tokens, and a changed role, take effect within
seconds. Stripe's webhooks (`POST /payment-gateway/webhooks/stripe`) are authenticated by their
`Stripe-Signature` instead.

**Idempotency** (IETF draft "The Idempotency-Key HTTP Header Field"). `POST
/payment-gateway/reservations/checkout` requires `Idempotency-Key` (1-255 characters): the same key
with the same body answers the original payment, never a second one; the same key with another body
is 422; the same key while the first request is still in flight is 409 (retry later). Verify,
cancel, refund, capture and confirm-cash accept an optional `Idempotency-Key` with the same rules.
Keys are kept at least 24 hours.

**Errors** are `application/problem+json` (RFC 9457) with a stable `type`; 503 answers (the database or
the payment service unavailable) carry `Retry-After`. **Money** is integer minor units plus an ISO
4217 currency.

**Events.** Partners receive the events of the `webhooks` section as Standard Webhooks-signed POSTs
(`webhook-id`, `webhook-timestamp`, `webhook-signature`)."""

BEARER_TOKEN = SecurityScheme(
    type="http", scheme="bearer", bearer_format="JWT", description="From POST /auth/login"
)
SERVICE_TOKEN = SecurityScheme(
    type="apiKey",
    name=SERVICE_TOKEN_HEADER,
    security_scheme_in="header",
    description="The token shared by paygate's services (internal routes only)",
)
WEBHOOK_SIGNATURE = SecurityScheme(
    type="apiKey",
    name="webhook-signature",
    security_scheme_in="header",
    description="Standard Webhooks: HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}` "
    "with the secret derived from the service token (the dispatcher's built-in subscriber)",
)
INTERNAL_DESCRIPTION = """\
The gateway's internal listener (`GATEWAY_INTERNAL_PORT`, never published): the dispatcher reads the
partners to deliver to (with their signing secrets) and the operational events here, and delivers
payment events to the gateway itself; `/metrics` is Prometheus'. Service token (`X-Service-Token`)
only, except the payment events, which carry a Standard Webhooks signature.
"""


def _link(operation_id: str, source: str, description: str) -> dict[str, object]:
    return {"operationId": operation_id, "parameters": {"payment_id": source}, "description": description}


# checkout -> get -> verify -> cancel: where each answer leads (OpenAPI links)
LINKS = {
    ("checkout", "201"): {
        "getPayment": _link("getMyPayment", "$response.body#/payment_id", "The payment just created"),
        "verifyPayment": _link("verifyMyPayment", "$response.body#/payment_id", "After the payer returns"),
        "cancelPayment": _link("cancelMyPayment", "$response.body#/payment_id", "The payer gives up"),
    },
    ("getMyPayment", "200"): {
        "verifyPayment": _link("verifyMyPayment", "$response.body#/id", "Ask the provider now"),
        "cancelPayment": _link("cancelMyPayment", "$response.body#/id", "Cancel while unsettled"),
    },
    ("verifyMyPayment", "200"): {
        "cancelPayment": _link("cancelMyPayment", "$response.body#/id", "Cancel while unsettled"),
    },
}
