"""``/api/payments`` (``shared.routes``): the internal payments API (service token only)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
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
CaptureBody = NamedDependency[CaptureCreate]
RefundBody = NamedDependency[RefundCreate]
ConfirmationBody = NamedDependency[CashConfirmation]


# What a command does, given the engine, the providers, the payment and who asked (the caller's key and
# the request's fingerprint, for the key it uses at the provider).
Work = Callable[..., Awaitable[Payment]]


def _verify(
    engine: AsyncEngine, providers: ProviderRegistry, payment_id: UUID, request: services.CommandRequest
) -> Awaitable[Payment]:
    """Verifying only asks the provider: no key of its own there."""
    return services.verify_payment(engine, providers, payment_id)


def _confirm_cash(
    engine: AsyncEngine,
    providers: ProviderRegistry,
    payment_id: UUID,
    request: services.CommandRequest,
    *,
    confirmation: CashConfirmation,
) -> Awaitable[Payment]:
    """Staff saw the cash: no provider is asked."""
    return services.confirm_cash_payment(engine, payment_id, confirmation)


def _command(path: str, operation_id: str, summary: str, status: int = 200) -> post:
    """A payment command's route: a POST that answers the payment with ``status`` and documents what
    every command can refuse (``ACTION_ERRORS``)."""
    return post(
        path,
        operation_id=operation_id,
        summary=summary,
        status_code=status,
        responses={status: PAYMENT_RESPONSE, **ACTION_ERRORS},
    )


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

    @_command(routes.PAYMENT_VERIFY, "verifyPayment", "Ask the provider and apply the outcome (idempotent)")
    async def verify_payment(
        self, request: Request, payment_id: PaymentId, key: OptionalKey = None, actor: ActorHeader = None
    ) -> Response[bytes]:
        body = await raw_json(request)
        return await _idempotent(request, payment_id, "verify", key, body, _verify, source=actor)

    @_command(
        routes.PAYMENT_CANCEL, "cancelPayment", "Cancel an unsettled payment and expire its provider session"
    )
    async def cancel_payment(
        self, request: Request, payment_id: PaymentId, key: OptionalKey = None, actor: ActorHeader = None
    ) -> Response[bytes]:
        body = await raw_json(request)
        return await _idempotent(
            request, payment_id, "cancel", key, body, services.cancel_payment, source=actor
        )

    @_command(routes.PAYMENT_CAPTURE, "capturePayment", "Capture an authorized payment (manual capture)")
    async def capture_payment(
        self, request: Request, payment_id: PaymentId, capture: CaptureBody, key: OptionalKey = None
    ) -> Response[bytes]:
        work = partial(services.capture_payment, capture=capture)
        return await _idempotent(request, payment_id, "capture", key, capture, work, source="operator")

    @_command(routes.PAYMENT_REFUNDS, "refundPayment", "Refund part or all of a captured payment", status=201)
    async def refund_payment(
        self, request: Request, payment_id: PaymentId, refund: RefundBody, key: OptionalKey = None
    ) -> Response[bytes]:
        work = partial(services.refund_payment, refund=refund)
        return await _idempotent(
            request, payment_id, "refund", key, refund, work, status=201, source="operator"
        )

    @_command(routes.PAYMENT_CONFIRM_CASH, "confirmCashPayment", "Staff confirm a cash payment was received")
    async def confirm_cash(
        self, request: Request, payment_id: PaymentId, confirmation: ConfirmationBody, key: OptionalKey = None
    ) -> Response[bytes]:
        work = partial(_confirm_cash, confirmation=confirmation)
        return await _idempotent(
            request, payment_id, "confirm-cash", key, confirmation, work, source="cash_confirmation"
        )


async def _idempotent(
    request: Request,
    payment_id: UUID,
    action: str,
    key: str | None,
    body: object,
    work: Work,
    status: int = 200,
    *,
    source: EventSource | None,
) -> Response[bytes]:
    """``body`` is what the fingerprint covers: the validated body, or the raw JSON of a route that
    takes none (IETF: the same key with another payload is another request, 422). The events the
    command writes come from ``source``. The engine comes from the app's state, not a dependency (as
    for ``create_payment``: verify and cancel are on the checkout's hot path)."""
    state = request.app.state
    request_fingerprint = fingerprint("POST", request.url.path, body)
    command = services.CommandRequest(key=key, fingerprint=request_fingerprint)
    engine = provide_engine(state)
    with acting_as(source):
        code, payload = await services.run_idempotent(
            engine,
            scope=f"payment:{payment_id}:{action}",
            key=key,
            request_fingerprint=request_fingerprint,
            action=lambda: work(engine, state.providers, payment_id, request=command),
            lease_seconds=state.settings.idempotency_lease_seconds,
            status=status,
        )
    return json_bytes(payload, code)
