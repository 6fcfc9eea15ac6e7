"""The request id of a checkout follows its payment's events: one dispatcher log line per delivery
attempt carries it, and the dispatcher hands it to the gateway's internal events endpoint."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.embedded_pg import free_port
from shared.observability import _ContextFilter
from tests.dispatcher.conftest import Receiver, add_partner, fetch, running_dispatcher
from tests.fixtures.services import RunningService, run_service, service_env
from tests.fixtures.waiting import eventually
from tests.gateway.conftest import MakeAccount, MakeReservation, make_account, make_reservation

__all__ = ["make_account", "make_reservation"]  # fixtures used here

GATEWAY_SUBSCRIBER = "00000000-0000-0000-0000-000000000001"


async def test_a_checkouts_request_id_reaches_the_dispatcher_logs_and_the_gateway(
    db_engine: AsyncEngine,
    database_url: str,
    payment_ms: RunningService,
    receiver: Receiver,
    make_account: MakeAccount,
    make_reservation: MakeReservation,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    partner_id, _ = await add_partner(db_engine, receiver.url("created"), ("payment.created",))
    port, internal_port = free_port(), free_port()
    url, internal = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{internal_port}"
    env = service_env(
        database_url,
        GATEWAY_PAYMENT_MS_URL=payment_ms.url,
        GATEWAY_INTERNAL_EVENTS_URL=f"{internal}/internal/payment-events",
        PAYGATE_LOG_LEVEL="INFO",
        PAYGATE_LOG_JSON="true",
    )
    # As configure_logging does in the dispatcher process: records get the request id of their context.
    caplog.handler.addFilter(_ContextFilter("dispatcher"))
    caplog.set_level(logging.INFO, logger="paygate.dispatcher.deliveries")
    request_id = f"trace-{uuid.uuid4().hex}"
    with ExitStack() as stack:
        gateway = await asyncio.to_thread(
            stack.enter_context, run_service("gateway", env, tmp_path, port=port, internal_port=internal_port)
        )
        async with running_dispatcher(database_url, internal):
            owner = await make_account(base_url=url)
            reservation_id = await make_reservation(owner)
            async with httpx.AsyncClient(timeout=15) as http:
                response = await http.post(
                    f"{url}/payment-gateway/reservations/checkout",
                    json={
                        "reservation_id": str(reservation_id),
                        "return_url": "http://127.0.0.1:5173/paid",
                        "cancel_url": "http://127.0.0.1:5173/canceled",
                    },
                    headers={**owner.headers, "Idempotency-Key": "k1", "X-Request-ID": request_id},
                )
            assert response.status_code == 201, response.text
            (got,) = await receiver.wait_count("created", 1)

            async def both_delivered() -> list[dict[str, Any]]:
                rows = await fetch(
                    db_engine, "SELECT partner_id FROM webhook_deliveries WHERE status = 'succeeded'"
                )
                return rows if len(rows) == 2 else []

            await eventually(both_delivered, what="the partner and the gateway received payment.created")
        log_path = gateway.process.log_path
        assert log_path is not None

    lines = [r for r in caplog.records if r.name == "paygate.dispatcher.deliveries"]
    by_partner = {getattr(r, "partner_id", None): r for r in lines}
    assert set(by_partner) == {str(partner_id), GATEWAY_SUBSCRIBER}
    for record in lines:
        assert record.request_id == request_id  # type: ignore[attr-defined]
        assert record.outcome == "succeeded" and record.status_code == 200  # type: ignore[attr-defined]
        assert record.event_id == got.msg_id  # type: ignore[attr-defined]
        message = record.getMessage()
        assert "whsec_" not in message and "v1," not in message
    # Partners are not told our internal ids; the gateway is, and logs its side under the same id.
    assert "x-request-id" not in got.headers
    gateway_lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    assert any(
        entry.get("path") == "/internal/payment-events" and entry.get("request_id") == request_id
        for entry in gateway_lines
    ), "the gateway's access line for the event carries the checkout's request id"
