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
from shared.jsonbody import LimitedJsonRequest
from shared.lifespan import database_lifespan
from shared.observability import RequestIdMiddleware, configure_logging
from shared.problems import EXCEPTION_HANDLERS
from shared.proxies import ClientAddressMiddleware
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
    app = Litestar(
        route_handlers=[HealthController, *route_handlers],
        lifespan=[*([database_lifespan(paygate, service)] if database else []), *lifespan],
        middleware=list(middleware),
        exception_handlers=EXCEPTION_HANDLERS,
        request_max_body_size=paygate.max_body_bytes,
        request_class=LimitedJsonRequest,
        state=State({"settings": settings}),
        openapi_config=openapi,
        debug=False,
        logging_config=None,  # Litestar's default would replace configure_logging's handler
        **kwargs,
    )
    # Around the whole ASGI handler, not as route middleware: requests that match no route (404,
    # 405) are logged and carry a request id too; the client address is resolved before either.
    handler = RequestIdMiddleware(app.asgi_handler, log_requests=paygate.access_log)
    if paygate.trusted_proxies:
        handler = ClientAddressMiddleware(  # type: ignore[assignment]
            handler, networks=paygate.trusted_networks, header=paygate.proxy_header
        )
    app.asgi_handler = handler
    return app
