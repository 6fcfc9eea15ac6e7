"""``/payment-gateway/health/check``: the gateway, payment_ms and the database, for a monitor."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Controller, MediaType, Request, Response, get
from litestar.status_codes import HTTP_503_SERVICE_UNAVAILABLE

from gateway.payments.dependencies import PaymentMs
from shared.health import database_is_reachable
from shared.problems import ApplicationError, problem_response, problem_responses

HEALTH_TIMEOUT_SECONDS = 2.0


class GatewayHealthController(Controller):
    path = "/payment-gateway/health"
    tags = ["payments"]

    @get(
        "/check",
        operation_id="healthCheck",
        summary="The gateway, payment_ms and the database",
        responses=problem_responses(503),
    )
    async def health_check(self, request: Request[Any, Any, Any], payment_ms: PaymentMs) -> Response[Any]:
        async def payment_ms_ready() -> bool:
            try:
                async with asyncio.timeout(HEALTH_TIMEOUT_SECONDS):
                    return await payment_ms.ready()
            except (ApplicationError, TimeoutError):
                return False

        database_ok, payment_ms_ok = await asyncio.gather(
            database_is_reachable(request.app.state.db_engine), payment_ms_ready()
        )
        report = {
            "gateway": "ok",
            "database": "ok" if database_ok else "unavailable",
            "payment_ms": "ok" if payment_ms_ok else "unavailable",
        }
        if database_ok and payment_ms_ok:
            return Response({"status": "ok", **report}, media_type=MediaType.JSON)
        return problem_response(
            HTTP_503_SERVICE_UNAVAILABLE, "Degraded", code="degraded", extra={"status": "degraded", **report}
        )
