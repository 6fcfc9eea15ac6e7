"""``python -m payment_ms.dispatcher``: one dispatcher process; run N of them to scale out."""

from __future__ import annotations

import asyncio
import signal

from prometheus_client import start_http_server

from paygate.config_check import enforce_startup_config
from payment_ms.dispatcher.settings import DispatcherSettings
from payment_ms.dispatcher.worker import Dispatcher
from shared.observability import configure_logging
from shared.settings import get_paygate_settings


async def serve(settings: DispatcherSettings) -> None:
    paygate = get_paygate_settings()
    if not paygate.database_url:
        raise SystemExit("PAYGATE_DATABASE_URL is not set (make dev sets it for you)")
    allow_loopback = paygate.is_dev if settings.allow_loopback is None else settings.allow_loopback

    def start_metrics() -> None:
        if settings.metrics_port:
            start_http_server(settings.metrics_port, settings.metrics_host)

    dispatcher = Dispatcher(
        settings,
        database_url=paygate.database_url,
        service_token=paygate.service_token.get_secret_value(),
        allow_loopback=allow_loopback,
        on_ready=start_metrics,
    )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, dispatcher.stop)
    await dispatcher.run()


def main() -> None:
    enforce_startup_config("dispatcher")
    paygate = get_paygate_settings()
    configure_logging("dispatcher", level=paygate.log_level, json_logs=paygate.json_logs)
    asyncio.run(serve(DispatcherSettings()))


if __name__ == "__main__":
    main()
