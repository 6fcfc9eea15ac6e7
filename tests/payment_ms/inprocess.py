"""payment_ms served IN the test process on a real socket, so respx can stand in for api.stripe.com
(respx patches httpx in-process only). Requests to 127.0.0.1 pass through to the real app."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import respx
import uvicorn
from pydantic import SecretStr

from payment_ms.settings import PaymentSettings
from shared.embedded_pg import free_port
from shared.settings import PaygateSettings, get_paygate_settings
from tests.fixtures.services import TEST_SERVICE_TOKEN
from tests.payment_ms.conftest import TOKEN_HEADERS

STRIPE = "https://api.stripe.com"
STRIPE_KEY = "sk_test_paygate_0123456789"
WEBHOOK_SECRET_NEW = "whsec_new_c2VjcmV0LW5ldy0wMTIzNDU2Nzg5"
WEBHOOK_SECRET_OLD = "whsec_old_c2VjcmV0LW9sZC0wMTIzNDU2Nzg5"


@pytest.fixture(scope="module")
def inprocess_settings(database_url: str) -> PaymentSettings:
    """The settings the in-process payment_ms is created with (``create_app(settings)``)."""
    return PaymentSettings(
        paygate=PaygateSettings(
            env="test",
            database_url=database_url,
            service_token=SecretStr(TEST_SERVICE_TOKEN),
            log_level="WARNING",
            access_log=False,
        ),
        stripe_secret_key=SecretStr(STRIPE_KEY),
        stripe_webhook_secrets=[SecretStr(WEBHOOK_SECRET_NEW), SecretStr(WEBHOOK_SECRET_OLD)],
    )


@pytest.fixture(scope="module")
async def inprocess_url(database_url: str, inprocess_settings: PaymentSettings) -> AsyncIterator[str]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    with pytest.MonkeyPatch.context() as mp:
        for name, value in {
            "PAYGATE_ENV": "test",
            "PAYGATE_DATABASE_URL": database_url,
            "PAYGATE_SERVICE_TOKEN": TEST_SERVICE_TOKEN,
            "PAYGATE_LOG_LEVEL": "WARNING",
            "PAYGATE_ACCESS_LOG": "false",
        }.items():
            mp.setenv(name, value)
        get_paygate_settings.cache_clear()
        from payment_ms.app import create_app

        port = free_port()
        app = create_app(inprocess_settings)  # its providers are built from these settings
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
        )
        task = asyncio.create_task(server.serve())
        async with asyncio.timeout(15):
            while not server.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.02)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            await task  # its lifespan closed its providers
            get_paygate_settings.cache_clear()
            root.handlers[:] = handlers
            root.setLevel(level)


@pytest.fixture
async def client(inprocess_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """payment_ms's API with the service token, on the in-process server."""
    async with httpx.AsyncClient(base_url=inprocess_url, headers=TOKEN_HEADERS, timeout=20.0) as c:
        yield c


@pytest.fixture
def stripe() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        router.route(host="127.0.0.1").pass_through()
        yield router


def session_object(
    session_id: str,
    payment_id: str,
    *,
    status: str = "open",
    payment_status: str = "unpaid",
    payment_intent: object = None,
    amount: int = 2500,
    currency: str = "eur",
) -> dict[str, object]:
    """A Checkout Session as Stripe's API reference shows it (the fields we read, and some we don't)."""
    return {
        "id": session_id,
        "object": "checkout.session",
        "amount_subtotal": amount,
        "amount_total": amount,
        "cancel_url": "http://127.0.0.1:5173/cancel",
        "client_reference_id": payment_id,
        "created": 1679600215,
        "currency": currency,
        "customer": None,
        "customer_email": "payer@example.com",
        "expires_at": 1679686615,
        "livemode": False,
        "metadata": {"payment_id": payment_id},
        "mode": "payment",
        "payment_intent": payment_intent,
        "payment_method_types": ["card"],
        "payment_status": payment_status,
        "status": status,
        "success_url": "http://127.0.0.1:5173/return",
        "url": f"https://checkout.stripe.com/c/pay/{session_id}" if status == "open" else None,
    }


def payment_intent_object(intent_id: str, *, status: str, amount: int = 2500) -> dict[str, object]:
    return {
        "id": intent_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": amount if status == "requires_capture" else 0,
        "amount_received": amount if status == "succeeded" else 0,
        "capture_method": "manual",
        "currency": "eur",
        "livemode": False,
        "status": status,
    }


def stripe_error(message: str, code: str, *, kind: str = "invalid_request_error") -> dict[str, object]:
    return {"error": {"code": code, "message": message, "type": kind}}
