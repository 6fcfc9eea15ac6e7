"""``/api/payments`` (``shared.routes``): the internal payments API (service token only)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import HeaderParameter, PathParameter
from sqlalchemy.ext.asyncio import AsyncEngine

from payment_ms.dependencies import provide_engine
from payment_ms.events.source import acting_as
from payment_ms.openapi import INPUT, PROVIDER, SECURITY, SERVICE, UNAVAILABLE, WRITE
from payment_ms.payments import creation, queries, services
from payment_ms.payments.dependencies import raw_json, strict_body
from payment_ms.payments.idempotency import MAX_KEY_LENGTH, fingerprint
from payment_ms.payments.schemas import IDEMPOTENCY_HEADER, PAYMENT_RESPONSE, json_bytes
from payment_ms.providers.registry import ProviderRegistry
from shared import routes
from shared.contracts import (
    ACTOR_HEADER,
    Actor,
    CaptureCreate,
    CashConfirmation,
    DailyPaymentStats,
    EventSource,
    Payment,
    PaymentCreate,
    PaymentList,
    RefundCreate,
)
from shared.problems import problem_responses
from shared.queries import PaymentFilter, StatsPeriod, query_dependency
from shared.security import requires_service_token

RequiredKey = Annotated[
    str, HeaderParameter(name=IDEMPOTENCY_HEADER, min_length=1, max_length=MAX_KEY_LENGTH)
]
OptionalKey = Annotated[
    str | None, HeaderParameter(name=IDEMPOTENCY_HEADER, min_length=1, max_length=MAX_KEY_LENGTH)
]
PaymentId = Annotated[UUID, PathParameter(description="Payment id")]
ActorHeader = Annotated[
    Actor | None,
    HeaderParameter(
        name=ACTOR_HEADER,
        description="Who asks: the payer (the gateway's payer routes) or an operator; the events this "
        "writes record it as their source",
    ),
]
# verify, cancel, capture, refund, confirm-cash: 404 no such payment, 409 the state machine or a
# concurrent request with the key, 422 refused input or a key reused for another request
ACTION_ERRORS = problem_responses(*INPUT, *SERVICE, 404, *WRITE, *PROVIDER, *UNAVAILABLE)
CREATE_ERRORS = problem_responses(*INPUT, *SERVICE, *WRITE, *PROVIDER, *UNAVAILABLE)
Engine = NamedDependency[AsyncEngine]


class PaymentController(Controller):
    path = "/"  # every route is a shared.routes template
    tags = ["payments"]
    guards = [requires_service_token]
    security = SECURITY
    dependencies = {
        "engine": Provide(provide_engine, sync_to_thread=False),
        "new_payment": Provide(strict_body(PaymentCreate)),
        "refund": Provide(strict_body(RefundCreate)),
        "capture": Provide(strict_body(CaptureCreate)),
        "confirmation": Provide(strict_body(CashConfirmation)),
    }

    @post(
        routes.PAYMENTS,
        operation_id="createPayment",
        summary="Create a payment and its provider checkout (idempotent)",
        responses={
            201: PAYMENT_RESPONSE,
            **problem_responses(*INPUT, *SERVICE, *WRITE, *PROVIDER, *UNAVAILABLE),
        },
    )
    async def create_payment(
        self,
        request: Request,
        new_payment: NamedDependency[PaymentCreate],
        idempotency_key: RequiredKey,
    ) -> Response[bytes]:
        # The engine is not a second dependency here: Litestar resolves two in an anyio task group,
        # per request, on the checkout hot path.
        with acting_as("payer"):
            status, body = await creation.create_payment(
                provide_engine(request.app.state),
                new_payment,
                settings=request.app.state.settings,
                providers=request.app.state.providers,
                idempotency_key=idempotency_key,
                request_fingerprint=fingerprint("POST", request.url.path, new_payment),
            )
        return json_bytes(body, status)

    @get(
        routes.PAYMENTS,
        operation_id="listPayments",
        summary="List payments, newest first (cursor pagination)",
        dependencies={"filters": query_dependency(PaymentFilter)},
        responses=problem_responses(*INPUT, *SERVICE, *UNAVAILABLE),
    )
    async def list_payments(self, engine: Engine, filters: NamedDependency[PaymentFilter]) -> PaymentList:
        return await queries.list_payments(engine, filters)

    @get(
        routes.PAYMENT_STATS_DAILY,
        operation_id="dailyPaymentStats",
        summary="Count and sum per day/provider/status",
        dependencies={"period": query_dependency(StatsPeriod)},
        responses=problem_responses(*INPUT, *SERVICE, *UNAVAILABLE),
    )
    async def daily_stats(self, engine: Engine, period: NamedDependency[StatsPeriod]) -> DailyPaymentStats:
        return await queries.daily_stats(engine, **period.as_kwargs())

    @get(
        routes.PAYMENT,
        operation_id="getPayment",
        summary="One payment",
        responses=problem_responses(*INPUT, *SERVICE, 404, *UNAVAILABLE),
    )
    async def get_payment(self, engine: Engine, payment_id: PaymentId) -> Payment:
        return await queries.get_payment(engine, payment_id)

    @post(
        routes.PAYMENT_VERIFY,
        operation_id="verifyPayment",
        summary="Ask the provider and apply the outcome (idempotent)",
        status_code=200,
        responses={200: PAYMENT_RESPONSE, **ACTION_ERRORS},
    )
    async def verify_payment(
        self,
        request: Request,
        engine: Engine,
        payment_id: PaymentId,
        idempotency_key: OptionalKey = None,
        actor: ActorHeader = None,
    ) -> Response[bytes]:
        return await _idempotent(
            request,
            engine,
            payment_id,
            "verify",
            idempotency_key,
            await raw_json(request),
            lambda providers, _: services.verify_payment(engine, providers, payment_id),
            source=actor,
        )

    @post(
        routes.PAYMENT_CANCEL,
        operation_id="cancelPayment",
        summary="Cancel an unsettled payment and expire its provider session",
        status_code=200,
        responses={200: PAYMENT_RESPONSE, **ACTION_ERRORS},
    )
    async def cancel_payment(
        self,
        request: Request,
        engine: Engine,
        payment_id: PaymentId,
        idempotency_key: OptionalKey = None,
        actor: ActorHeader = None,
    ) -> Response[bytes]:
        return await _idempotent(
            request,
            engine,
            payment_id,
            "cancel",
            idempotency_key,
            await raw_json(request),
            lambda providers, command: services.cancel_payment(engine, providers, payment_id, command),
            source=actor,
        )

    @post(
        routes.PAYMENT_CAPTURE,
        operation_id="capturePayment",
        summary="Capture an authorized payment (manual capture)",
        status_code=200,
        responses={200: PAYMENT_RESPONSE, **ACTION_ERRORS},
    )
    async def capture_payment(
        self,
        request: Request,
        engine: Engine,
        payment_id: PaymentId,
        capture: NamedDependency[CaptureCreate],
        idempotency_key: OptionalKey = None,
    ) -> Response[bytes]:
        return await _idempotent(
            request,
            engine,
            payment_id,
            "capture",
            idempotency_key,
            capture,
            lambda providers, cmd: services.capture_payment(engine, providers, payment_id, capture, cmd),
            source="operator",
        )

    @post(
        routes.PAYMENT_REFUNDS,
        operation_id="refundPayment",
        summary="Refund part or all of a captured payment",
        status_code=201,
        responses={201: PAYMENT_RESPONSE, **ACTION_ERRORS},
    )
    async def refund_payment(
        self,
        request: Request,
        engine: Engine,
        payment_id: PaymentId,
        refund: NamedDependency[RefundCreate],
        idempotency_key: OptionalKey = None,
    ) -> Response[bytes]:
        return await _idempotent(
            request,
            engine,
            payment_id,
            "refund",
            idempotency_key,
            refund,
            lambda providers, cmd: services.refund_payment(engine, providers, payment_id, refund, cmd),
            status=201,
            source="operator",
        )

    @post(
        routes.PAYMENT_CONFIRM_CASH,
        operation_id="confirmCashPayment",
        summary="Staff confirm a cash payment was received",
        status_code=200,
        responses={200: PAYMENT_RESPONSE, **ACTION_ERRORS},
    )
    async def confirm_cash(
        self,
        request: Request,
        engine: Engine,
        payment_id: PaymentId,
        confirmation: NamedDependency[CashConfirmation],
        idempotency_key: OptionalKey = None,
    ) -> Response[bytes]:
        return await _idempotent(
            request,
            engine,
            payment_id,
            "confirm-cash",
            idempotency_key,
            confirmation,
            lambda _, __: services.confirm_cash_payment(engine, payment_id, confirmation),
            source="cash_confirmation",
        )


async def _idempotent(
    request: Request,
    engine: AsyncEngine,
    payment_id: UUID,
    action: str,
    key: str | None,
    body: object,
    run: Callable[[ProviderRegistry, services.CommandRequest], Awaitable[Payment]],
    status: int = 200,
    *,
    source: EventSource | None,
) -> Response[bytes]:
    """``body`` is what the fingerprint covers: the validated body, or the raw JSON of a route that
    takes none (IETF: the same key with another payload is another request, 422). The events the
    command writes come from ``source``."""
    request_fingerprint = fingerprint("POST", request.url.path, body)
    command = services.CommandRequest(key=key, fingerprint=request_fingerprint)
    with acting_as(source):
        code, payload = await services.run_idempotent(
            engine,
            scope=f"payment:{payment_id}:{action}",
            key=key,
            request_fingerprint=request_fingerprint,
            action=lambda: run(request.app.state.providers, command),
            lease_seconds=request.app.state.settings.idempotency_lease_seconds,
            status=status,
        )
    return json_bytes(payload, code)
