"""Query types of the payments API (bodies and answers are ``shared.contracts``)."""

from __future__ import annotations

from litestar import MediaType, Response
from litestar.openapi.datastructures import ResponseSpec

from shared.contracts import Payment, PaymentStatus, ProviderName

StatusFilter = PaymentStatus
ProviderFilter = ProviderName
IDEMPOTENCY_HEADER = "Idempotency-Key"

PAYMENT_RESPONSE = ResponseSpec(data_container=Payment, description="The payment")


def json_bytes(body: bytes, status: int) -> Response[bytes]:
    """Answer pre-encoded JSON: idempotent replays must be the stored bytes, not a re-encoding."""
    return Response(content=body, status_code=status, media_type=MediaType.JSON)
