"""What every paygate Litestar app has: its settings (``app.state.settings``), the database lifespan,
request ids and logs, problem+json errors, a body size limit and the health endpoints. Each service
adds its own routes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from litestar import Litestar
from litestar.datastructures import State
from litestar.middleware import DefineMiddleware
from litestar.openapi.config import OpenAPIConfig
from litestar.types import ControllerRouterHandler

from shared.health import HealthController
from shared.lifespan import database_lifespan
from shared.observability import RequestIdMiddleware, configure_logging
from shared.problems import EXCEPTION_HANDLERS
from shared.settings import ServiceSettings

Lifespan = Callable[[Litestar], AbstractAsyncContextManager[None]]


def create_service_app(
    service: str,
    settings: ServiceSettings,
    *,
    route_handlers: Sequence[ControllerRouterHandler] = (),
    lifespan: Sequence[Lifespan] = (),
    middleware: Sequence[DefineMiddleware] = (),
    database: bool = True,
    configure_logs: bool = True,
    openapi: OpenAPIConfig | None = None,
    **kwargs: Any,
) -> Litestar:
    """``database=False``: the app owns no engine (its state is another app's, ``gateway.internal``)."""
    paygate = settings.paygate
    if configure_logs:
        configure_logging(service, level=paygate.log_level, json_logs=paygate.json_logs)
    return Litestar(
        route_handlers=[HealthController, *route_handlers],
        lifespan=[*([database_lifespan(paygate)] if database else []), *lifespan],
        middleware=[DefineMiddleware(RequestIdMiddleware, log_requests=paygate.access_log), *middleware],
        exception_handlers=EXCEPTION_HANDLERS,
        request_max_body_size=paygate.max_body_bytes,
        state=State({"settings": settings}),
        openapi_config=openapi,
        debug=False,
        logging_config=None,  # Litestar's default would replace configure_logging's handler
        **kwargs,
    )
