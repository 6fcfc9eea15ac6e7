"""The gateway's internal listener: ``/internal/*`` (partner lists with their signing secrets, payment
events from the dispatcher, a partner disabled after 410) and ``/metrics`` on ``GATEWAY_INTERNAL_PORT``,
never on the public port, with their own OpenAPI at ``/schema``.

It is a second Litestar app served from inside the gateway's process (a small uvicorn server started
by the public app's lifespan), sharing the public app's state: its database engine, its payment_ms
client and its metrics. Each granian worker binds the port with ``SO_REUSEPORT``.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable, Generator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import uvicorn
from litestar import Litestar
from litestar.plugins.prometheus import PrometheusController

from gateway.metrics.definitions import PROMETHEUS
from gateway.openapi import INTERNAL_DESCRIPTION, SERVICE_TOKEN, WEBHOOK_SIGNATURE
from gateway.partners.controllers import OperationalEventInternalController, PartnerInternalController
from gateway.reservations.controllers import PaymentEventsController
from gateway.settings import GatewaySettings
from shared.app_factory import create_service_app
from shared.openapi import api_docs, signed_event_receiver

STARTUP_TIMEOUT_SECONDS = 10.0


class MetricsController(PrometheusController):
    include_in_schema = False


def create_internal_app(settings: GatewaySettings, dependencies: dict[str, object]) -> Litestar:
    """The internal routes; their state is set to the public app's when the listener starts."""
    docs, docs_routes = api_docs(
        settings.paygate,
        title="paygate gateway (internal)",
        description=INTERNAL_DESCRIPTION,
        security_schemes={"ServiceToken": SERVICE_TOKEN, "WebhookSignature": WEBHOOK_SIGNATURE},
        finalizers=[signed_event_receiver("receivePaymentEvent")],
    )
    return create_service_app(
        "gateway",
        settings,
        route_handlers=[
            PartnerInternalController,
            OperationalEventInternalController,
            PaymentEventsController,
            MetricsController,
            *docs_routes,
        ],
        database=False,
        configure_logs=False,
        middleware=[PROMETHEUS.middleware],
        dependencies=dependencies,
        openapi=docs,
    )


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its signal handlers: granian owns the process's signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def _listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)  # one per granian worker
    sock.bind((host, port))
    return sock


def internal_listener(
    settings: GatewaySettings, internal: Litestar
) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    """A lifespan of the public app: serves ``internal`` on the internal port while the app runs."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        internal.state = app.state
        config = uvicorn.Config(
            internal,
            lifespan="off",
            log_config=None,
            log_level="warning",
            access_log=False,
            proxy_headers=False,
            server_header=False,
            ws="none",
        )
        server = _EmbeddedServer(config)
        sock = _listening_socket(settings.internal_host, settings.internal_port)
        task = asyncio.create_task(server.serve(sockets=[sock]))
        async with asyncio.timeout(STARTUP_TIMEOUT_SECONDS):
            while not server.started:  # a startup that failed ends the task: its error is raised here
                if task.done():
                    task.result()
                    raise RuntimeError("the internal listener stopped while starting")
                await asyncio.sleep(0.01)
        try:
            yield
        finally:
            server.should_exit = True
            await task

    return lifespan
