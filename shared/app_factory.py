"""What every paygate Litestar app has: the database lifespan, request ids and logs, problem+json
errors, a body size limit and the health endpoints. Each service adds its own routes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from litestar import Litestar
from litestar.middleware import DefineMiddleware
from litestar.openapi.config import OpenAPIConfig
from litestar.types import ControllerRouterHandler

from shared.health import HealthController
from shared.lifespan import database_lifespan
from shared.observability import RequestIdMiddleware, configure_logging
from shared.problems import EXCEPTION_HANDLERS
from shared.settings import PaygateSettings

Lifespan = Callable[[Litestar], AbstractAsyncContextManager[None]]


def create_service_app(
    service: str,
    settings: PaygateSettings,
    *,
    route_handlers: Sequence[ControllerRouterHandler] = (),
    lifespan: Sequence[Lifespan] = (),
    openapi: OpenAPIConfig | None = None,
    **kwargs: Any,
) -> Litestar:
    configure_logging(service, level=settings.log_level, json_logs=settings.json_logs)
    return Litestar(
        route_handlers=[HealthController, *route_handlers],
        lifespan=[database_lifespan(settings), *lifespan],
        middleware=[DefineMiddleware(RequestIdMiddleware, log_requests=settings.access_log)],
        exception_handlers=EXCEPTION_HANDLERS,
        request_max_body_size=settings.max_body_bytes,
        openapi_config=openapi,
        debug=False,
        logging_config=None,  # Litestar's default would replace configure_logging's handler
        **kwargs,
    )
