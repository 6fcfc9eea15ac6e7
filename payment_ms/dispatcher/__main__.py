"""``python -m payment_ms.dispatcher``: one dispatcher process; run N of them to scale out.

Expected failures (a setting that cannot be used, the database unreachable) end with
``paygate: error: …`` and the ``paygate`` command's exit codes (2 configuration, 3 database), never a
traceback. ``main`` builds the settings and hands them to the factory (``open_dispatcher``).
"""

from __future__ import annotations

import asyncio
import signal
import sys

import uvloop
from prometheus_client import start_http_server

from payment_ms.dispatcher.factory import open_dispatcher
from payment_ms.dispatcher.settings import DispatcherSettings
from payment_ms.settings import PaymentSettings
from shared.db import EXIT_DATABASE, database_failure_message
from shared.observability import configure_logging
from shared.settings_errors import EXIT_BAD_CONFIG, settings_or_exit


def _fail(message: str, code: int) -> SystemExit:
    print(f"paygate: error: dispatcher: {message}", file=sys.stderr, flush=True)
    return SystemExit(code)


async def serve(settings: DispatcherSettings, payment_settings: PaymentSettings | None) -> None:
    paygate = settings.paygate
    allow_loopback = settings.loopback_allowed(paygate.is_dev)

    def start_metrics() -> None:
        if settings.metrics_port:
            start_http_server(settings.metrics_port, settings.metrics_host)

    async with open_dispatcher(
        settings,
        database_url=paygate.database_url_for("payment-ms"),  # the dispatcher is part of payment_ms
        service_token=paygate.service_token.get_secret_value(),
        allow_loopback=allow_loopback,
        payment_settings=payment_settings,
        on_ready=start_metrics,
    ) as dispatcher:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, dispatcher.stop)
        await dispatcher.run()


def main() -> None:
    # unusable values always refuse; weak secrets outside dev
    settings = settings_or_exit("dispatcher", DispatcherSettings, "DISPATCHER_")
    # reconciliation asks the providers, with payment_ms's settings (refused values stop here too)
    payment_settings = (
        settings_or_exit("payment-ms", PaymentSettings, "PAYMENT_MS_")
        if settings.reconcile_interval_seconds > 0
        else None
    )
    paygate = settings.paygate
    if not paygate.database_url:
        raise _fail("PAYGATE_DATABASE_URL is not set (make dev sets it for you)", EXIT_BAD_CONFIG)
    configure_logging("dispatcher", paygate)
    try:
        # uvloop (as granian runs the services): py-spy showed the stock loop's selector and socket
        # writes as a third of the dispatcher's CPU (BENCHMARKS.md, issue 16)
        uvloop.run(serve(settings, payment_settings))
    except Exception as exc:
        message = database_failure_message(exc, paygate.database_url_for("payment-ms"))
        if message is None:
            raise
        raise _fail(message, EXIT_DATABASE) from None


if __name__ == "__main__":
    main()
