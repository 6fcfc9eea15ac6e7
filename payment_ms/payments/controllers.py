"""``/api/payments`` (``shared.routes``): the internal payments API (service token only)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Annotated, Any
from uuid import UUID

from litestar import Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.handlers import HTTPRouteHandler
from litestar.params import HeaderParameter, PathParameter
from sqlalchemy.ext.asyncio import AsyncEngine

from payment_ms.dependencies import provide_engine
from payment_ms.events.source import acting_as
from payment_ms.openapi import INPUT, PROVIDER, READ, READ_ONE, SERVICE, UNAVAILABLE, WRITE
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
from shared.operations import ServiceTokenController, operation
from shared.queries import PaymentFilter, StatsPeriod, query_dependency

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
ACTION_ERRORS = (*INPUT, *SERVICE, 404, *WRITE, *PROVIDER, *UNAVAILABLE)
CREATE_ERRORS = (*INPUT, *SERVICE, *WRITE, *PROVIDER, *UNAVAILABLE)
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


def _command(
    path: str, operation_id: str, status: int = 200
) -> Callable[[Callable[..., Any]], HTTPRouteHandler]:
    """A payment command's route: a POST that answers the payment with ``status`` and documents what
    every command can refuse (``ACTION_ERRORS``)."""
    answers = {status: PAYMENT_RESPONSE}
    return operation(post, path, operation_id, ACTION_ERRORS, answers=answers, status_code=status)


class PaymentController(ServiceTokenController):
    path = "/"  # every route is a shared.routes template
    tags = ["payments"]
    dependencies = {
        "filters": query_dependency(PaymentFilter),
        "period": query_dependency(StatsPeriod),
        "new_payment": Provide(strict_body(PaymentCreate)),
        "refund": Provide(strict_body(RefundCreate)),
        "capture": Provide(strict_body(CaptureCreate)),
        "confirmation": Provide(strict_body(CashConfirmation)),
    }

    @operation(post, routes.PAYMENTS, "createPayment", CREATE_ERRORS, answers={201: PAYMENT_RESPONSE})
    async def create_payment(
        self,
        request: Request,
        new_payment: NamedDependency[PaymentCreate],
        idempotency_key: RequiredKey,
    ) -> Response[bytes]:
        """Create a payment and its provider checkout (idempotent)"""
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

    @operation(get, routes.PAYMENTS, "listPayments", READ)
    async def list_payments(self, engine: Engine, filters: NamedDependency[PaymentFilter]) -> PaymentList:
        """List payments, newest first (cursor pagination)"""
        return await queries.list_payments(engine, filters)

    @operation(get, routes.PAYMENT_STATS_DAILY, "dailyPaymentStats", READ)
    async def daily_stats(self, engine: Engine, period: NamedDependency[StatsPeriod]) -> DailyPaymentStats:
        """Count and sum per day/provider/status"""
        return await queries.daily_stats(engine, **period.as_kwargs())

    @operation(get, routes.PAYMENT, "getPayment", READ_ONE)
    async def get_payment(self, engine: Engine, payment_id: PaymentId) -> Payment:
        """One payment"""
        return await queries.get_payment(engine, payment_id)

    @_command(routes.PAYMENT_VERIFY, "verifyPayment")
    async def verify_payment(
        self, request: Request, payment_id: PaymentId, key: OptionalKey = None, actor: ActorHeader = None
    ) -> Response[bytes]:
        """Ask the provider and apply the outcome (idempotent)"""
        body = await raw_json(request)
        return await _idempotent(request, payment_id, "verify", key, body, _verify, source=actor)

    @_command(routes.PAYMENT_CANCEL, "cancelPayment")
    async def cancel_payment(
        self, request: Request, payment_id: PaymentId, key: OptionalKey = None, actor: ActorHeader = None
    ) -> Response[bytes]:
        """Cancel an unsettled payment and expire its provider session"""
        body = await raw_json(request)
        return await _idempotent(
            request, payment_id, "cancel", key, body, services.cancel_payment, source=actor
        )

    @_command(routes.PAYMENT_CAPTURE, "capturePayment")
    async def capture_payment(
        self, request: Request, payment_id: PaymentId, capture: CaptureBody, key: OptionalKey = None
    ) -> Response[bytes]:
        """Capture an authorized payment (manual capture)"""
        work = partial(services.capture_payment, capture=capture)
        return await _idempotent(request, payment_id, "capture", key, capture, work, source="operator")

    @_command(routes.PAYMENT_REFUNDS, "refundPayment", status=201)
    async def refund_payment(
        self, request: Request, payment_id: PaymentId, refund: RefundBody, key: OptionalKey = None
    ) -> Response[bytes]:
        """Refund part or all of a captured payment"""
        work = partial(services.refund_payment, refund=refund)
        return await _idempotent(request, payment_id, "refund", key, refund, work, source="operator")

    @_command(routes.PAYMENT_CONFIRM_CASH, "confirmCashPayment")
    async def confirm_cash(
        self, request: Request, payment_id: PaymentId, confirmation: ConfirmationBody, key: OptionalKey = None
    ) -> Response[bytes]:
        """Staff confirm a cash payment was received"""
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
    *,
    source: EventSource | None,
) -> Response[bytes]:
    """``body`` is what the fingerprint covers: the validated body, or the raw JSON of a route that
    takes none (IETF: the same key with another payload is another request, 422). The events the
    command writes come from ``source``; the answer has its route's status (201 for a refund). The
    engine comes from the app's state, not a dependency (as for ``create_payment``: verify and cancel
    are on the checkout's hot path)."""
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
            status=request.route_handler.status_code,
        )
    return json_bytes(payload, code)
