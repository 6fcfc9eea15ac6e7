"""What every paygate Litestar app has: the database lifespan, request ids and logs, problem+json
errors, a body size limit and the health endpoints. Each service adds its own routes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from litestar import Litestar
from litestar.openapi.config import OpenAPIConfig
from litestar.types import ControllerRouterHandler

from shared.health import HealthController
from shared.jsonbody import LimitedJsonRequest
from shared.lifespan import database_lifespan
from shared.observability import RequestIdMiddleware, configure_logging
from shared.problems import EXCEPTION_HANDLERS
from shared.proxies import ClientAddressMiddleware
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
    app = Litestar(
        route_handlers=[HealthController, *route_handlers],
        lifespan=[database_lifespan(settings, service), *lifespan],
        exception_handlers=EXCEPTION_HANDLERS,
        request_max_body_size=settings.max_body_bytes,
        request_class=LimitedJsonRequest,
        openapi_config=openapi,
        debug=False,
        logging_config=None,  # Litestar's default would replace configure_logging's handler
        **kwargs,
    )
    # Around the whole ASGI handler, not as route middleware: requests that match no route (404,
    # 405) are logged and carry a request id too; the client address is resolved before either.
    handler = RequestIdMiddleware(app.asgi_handler, log_requests=settings.access_log)
    if settings.trusted_proxies:
        handler = ClientAddressMiddleware(  # type: ignore[assignment]
            handler, networks=settings.trusted_networks, header=settings.proxy_header
        )
    app.asgi_handler = handler
    return app
