"""What every paygate Litestar app has: its settings (``app.state.settings``), the database lifespan,
request ids and logs, problem+json errors, a body size limit and the health endpoints. Each service
adds its own routes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from litestar import Litestar
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from litestar.middleware import DefineMiddleware
from litestar.openapi.config import OpenAPIConfig
from litestar.routes import HTTPRoute
from litestar.types import ASGIApp, ControllerRouterHandler, HTTPResponseStartEvent, Receive, Scope, Send

from shared.health import HealthController
from shared.jsonbody import LimitedJsonRequest
from shared.lifespan import database_lifespan
from shared.observability import RequestIdMiddleware, configure_logging
from shared.problems import EXCEPTION_HANDLERS
from shared.proxies import ClientAddressMiddleware
from shared.settings import ServiceSettings

Lifespan = Callable[[Litestar], AbstractAsyncContextManager[None]]


class OptionsMiddleware:
    """``OPTIONS`` answers 204 with every method of the path in ``Allow``, without authentication.

    Litestar's own OPTIONS handler belongs to the first controller that registered the path: it
    inherits that controller's guards (a 401 on ``/admin/...``) and lists only its methods
    (``/admin/partners`` said ``OPTIONS, POST``). A CORS preflight (an ``Origin`` while CORS is
    configured) is left to Litestar's CORS middleware."""

    def __init__(self, app: Litestar, handler: ASGIApp) -> None:
        self.app = app
        self.handler = handler
        self.allow = {
            route.path_format: ", ".join(sorted(route.methods))
            for route in app.routes
            if isinstance(route, HTTPRoute)
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        allow = self._allow(scope) if scope["type"] == "http" and scope.get("method") == "OPTIONS" else None
        if allow is None:
            await self.handler(scope, receive, send)
            return
        start: HTTPResponseStartEvent = {
            "type": "http.response.start",
            "status": 204,
            "headers": [(b"allow", allow.encode()), (b"content-length", b"0")],
        }
        await send(start)
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    def _allow(self, scope: Scope) -> str | None:
        if self.app.cors_config and any(name == b"origin" for name, _ in scope["headers"]):
            return None
        try:
            template = self.app.asgi_router.handle_routing(path=scope["path"], method="OPTIONS")[4]
        except HTTPException:
            return None  # Litestar answers the 404
        return self.allow.get(template)


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
        configure_logging(service, paygate)
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
    handler = RequestIdMiddleware(OptionsMiddleware(app, app.asgi_handler), log_requests=paygate.access_log)
    if paygate.trusted_proxies:
        handler = ClientAddressMiddleware(  # type: ignore[assignment]
            handler, networks=paygate.trusted_networks, header=paygate.proxy_header
        )
    app.asgi_handler = handler
    return app
