"""The error statuses gateway handlers document, each as ``application/problem+json``
(``shared.problems.problem_responses`` renders them; ``shared.problems`` maps every error to its status).

Litestar documents a 400 as plain JSON for every handler that takes a parameter or a body; such a
handler lists ``INPUT`` so that 400 is documented as the problem+json it is.
"""

from __future__ import annotations

INPUT = (400,)  # malformed JSON, a missing or invalid parameter, header or field (JSON nested too deep)
DATABASE = (503,)  # the database refuses or drops connections (with Retry-After): every route that reads it
USER = (
    401,
    *DATABASE,
)  # requires_user: no bearer token, an invalid or expired one, a disabled or deleted user
ADMIN = (401, 403, *DATABASE)  # requires_admin: as USER, and 403 for a user who is not an admin (now)
SERVICE = (401, *DATABASE)  # requires_service_token (or the signature of a payment event)
UPSTREAM = (502, 503, 504)  # payment_ms answers unexpectedly, is down (or its database is), or is too slow

__all__ = ["ADMIN", "DATABASE", "INPUT", "SERVICE", "UPSTREAM", "USER"]
