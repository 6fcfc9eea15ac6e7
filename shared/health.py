"""``GET /health`` (the process is alive) and ``GET /ready`` (the database answers), for both services."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Controller, Request, get
from litestar.status_codes import HTTP_503_SERVICE_UNAVAILABLE
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.problems import problem_response, problem_responses
from shared.routes import READY

READY_TIMEOUT_SECONDS = 2.0


async def database_is_reachable(engine: AsyncEngine) -> bool:
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


class HealthController(Controller):
    path = "/"
    tags = ["health"]
    include_in_schema = True

    @get("/health", operation_id="health", summary="Liveness: the process answers")
    async def health(self) -> dict[str, str]:
        return {"status": "ok"}

    @get(
        READY,
        operation_id="ready",
        summary="Readiness: the database is reachable",
        responses=problem_responses(HTTP_503_SERVICE_UNAVAILABLE),
    )
    async def ready(self, request: Request[Any, Any, Any]) -> Any:
        if await database_is_reachable(request.app.state.db_engine):
            return {"status": "ready", "database": "ok"}
        return problem_response(
            HTTP_503_SERVICE_UNAVAILABLE,
            "Not ready",
            "database unreachable",
            code="not-ready",
            extra={"database": "unreachable"},
        )
