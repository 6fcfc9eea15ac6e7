"""The error statuses gateway handlers document, each as ``application/problem+json``
(``shared.problems.problem_responses`` renders them; ``shared.problems`` maps every error to its status).

Litestar documents a 400 as plain JSON for every handler that takes a parameter or a body; such a
handler lists ``INPUT`` so that 400 is documented as the problem+json it is.
"""

from __future__ import annotations

from litestar.openapi.spec import Components, SecurityScheme

INPUT = (400,)  # malformed JSON, a missing or invalid parameter, header or field
USER = (401,)  # requires_user: no bearer token, an invalid or expired one, or a disabled user
ADMIN = (401, 403)  # requires_admin: as USER, and 403 for a user who is not an admin
SERVICE = (401,)  # requires_service_token (or the signature of a payment event)
UPSTREAM = (502, 503, 504)  # payment_ms answers unexpectedly, is down, or is too slow

SECURITY_SCHEMES = Components(
    security_schemes={
        "BearerToken": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT"),
        "ServiceToken": SecurityScheme(type="apiKey", name="X-Service-Token", security_scheme_in="header"),
    }
)

__all__ = ["ADMIN", "INPUT", "SECURITY_SCHEMES", "SERVICE", "UPSTREAM", "USER"]
