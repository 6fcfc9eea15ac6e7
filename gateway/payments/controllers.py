"""``/payment-gateway``: checkout and the payer's view of their payments; admin passthroughs."""

from __future__ import annotations

import asyncio
import re
from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, MediaType, Request, Response, get, post
from litestar.di import Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Parameter, QueryParameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_503_SERVICE_UNAVAILABLE
from litestar.types import ExceptionHandlersMap
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.auth.dependencies import provide_current_user
from gateway.auth.guards import requires_admin, requires_user
from gateway.auth.tokens import AuthUser
from gateway.dependencies import strictly
from gateway.openapi import ADMIN, INPUT, UPSTREAM, USER
from gateway.payments import services
from gateway.payments.client import PaymentMsClient, UpstreamResponse
from gateway.payments.dependencies import Payer, provide_payer, provide_payment_ms
from gateway.payments.schemas import CheckoutRequest, CheckoutResponse, ReplaySince
from gateway.settings import get_gateway_settings
from shared.contracts import (
    CaptureCreate,
    DailyPaymentStats,
    Delivery,
    DeliveryDetail,
    DeliveryList,
    DeliveryStatus,
    EventList,
    EventType,
    Payment,
    PaymentList,
    PaymentStatus,
    ProviderName,
    RefundCreate,
    ReplayCount,
    StripeWebhookReceipt,
)
from shared.health import database_is_reachable
from shared.problems import (
    PROBLEM_JSON,
    ApplicationError,
    ConflictError,
    problem_response,
    problem_responses,
)
from shared.settings import get_paygate_settings

PaymentId = Annotated[UUID, Parameter(description="Payment id")]
RequiredKey = Annotated[str, Parameter(header="Idempotency-Key", min_length=1, max_length=255)]
OptionalKey = Annotated[str | None, Parameter(header="Idempotency-Key", min_length=1, max_length=255)]
DeliveryId = Annotated[UUID, Parameter(description="Delivery id")]
PartnerId = Annotated[UUID, Parameter(description="Partner id")]
CreatedFrom = Annotated[datetime | None, Parameter(description="Inclusive lower bound on created_at")]
CreatedTo = Annotated[datetime | None, Parameter(description="Exclusive upper bound on created_at")]
Cursor = Annotated[str | None, Parameter(max_length=200, description="next_cursor of the previous page")]
Limit = Annotated[int, Parameter(ge=1, le=200, description="Page size")]
HEALTH_TIMEOUT_SECONDS = 2.0

# What payment_ms's problems may say about its own routes ("Validation failed for GET /api/payments?…").
_UPSTREAM_REQUEST = re.compile(r"\b(GET|POST|PUT|PATCH|DELETE) /api/\S*")
_UPSTREAM_PATH = re.compile(r"/api/[\w/.\-]*(\?\S*)?")


def answers(
    status: int, data: type[msgspec.Struct], description: str, *errors: int
) -> dict[int, ResponseSpec]:
    """OpenAPI ``responses`` of a handler that relays payment_ms's bytes: the real success type (the
    handler's ``Response[bytes]`` would document a string) and its problem+json errors."""
    return {
        status: ResponseSpec(data_container=data, description=description, generate_examples=False),
        **problem_responses(*errors),
    }


USER_ERRORS = (*INPUT, *USER, 404, *UPSTREAM)
ADMIN_ERRORS = (*INPUT, *ADMIN, 404, *UPSTREAM)
COMMAND_ERRORS = (409, 422)


def relay(answer: UpstreamResponse) -> Response[bytes]:
    return Response(content=answer.body, status_code=answer.status, media_type=answer.content_type)


def _own_problem(request: Request[Any, Any, Any], body: bytes) -> bytes | None:
    """payment_ms's problem with its internal routes replaced by the gateway's (None: not a problem)."""
    try:
        problem = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return None
    if not isinstance(problem, dict):
        return None
    if "instance" in problem:
        problem["instance"] = request.url.path
    detail = problem.get("detail")
    if isinstance(detail, str):
        here = request.url.path
        detail = _UPSTREAM_REQUEST.sub(lambda _: f"{request.method} {here}", detail)
        problem["detail"] = _UPSTREAM_PATH.sub(lambda _: here, detail)
    return msgspec.json.encode(problem)


def _pass_through(request: Request[Any, Any, Any], exc: services.PassThrough) -> Response[bytes]:
    answer = exc.response
    if answer.content_type.startswith(PROBLEM_JSON):
        body = _own_problem(request, answer.body)
        if body is not None:
            return Response(content=body, status_code=answer.status, media_type=PROBLEM_JSON)
    return relay(answer)


def _query(**values: object) -> list[tuple[str, str]]:
    """Validated filters, as payment_ms reads them (unset ones left out)."""
    params = []
    for name, value in values.items():
        if value is None:
            continue
        text = value.isoformat() if isinstance(value, date | datetime) else str(value)
        params.append((name, text))
    return params


PASS_THROUGH: ExceptionHandlersMap = {services.PassThrough: _pass_through}
CLIENT = {"payment_ms": Provide(provide_payment_ms, sync_to_thread=False)}


class PaymentGatewayController(Controller):
    path = "/payment-gateway"
    tags = ["payments"]
    guards = [requires_user]
    dependencies = {"payer": Provide(provide_payer, sync_to_thread=False)}
    exception_handlers = PASS_THROUGH
    security = [{"BearerToken": []}]

    @post(
        "/reservations/checkout",
        operation_id="checkout",
        summary="Start paying for one of the caller's reservations",
        description="Amount and currency come from the reservation. `Idempotency-Key` is required: a retry "
        "with the same key answers the payment the first request created; a concurrent checkout of the "
        "same reservation gets 409.",
        status_code=HTTP_201_CREATED,
        responses=problem_responses(*USER_ERRORS, *COMMAND_ERRORS),
    )
    async def checkout(
        self,
        request: Request[Any, Any, Any],
        data: CheckoutRequest,
        idempotency_key: RequiredKey,
        payer: Payer,
    ) -> CheckoutResponse:
        return await services.checkout(
            payer.engine,
            payer.payment_ms,
            get_gateway_settings(),
            user=payer.user,
            data=await strictly(request, data),
            idempotency_key=idempotency_key,
            allow_dev_redirects=get_paygate_settings().is_dev,
        )

    @get(
        "/{payment_id:uuid}",
        operation_id="getMyPayment",
        summary="One of the caller's payments",
        responses=answers(200, Payment, "The payment", *USER_ERRORS),
    )
    async def get_payment(
        self,
        payment_id: PaymentId,
        payer: Payer,
    ) -> Response[bytes]:
        owned = await services.owned_payment(payer.payment_ms, payer.user, payment_id)
        return relay(await services.follow(payer.engine, owned.answer, owned.payment))

    @post(
        "/{payment_id:uuid}/verify",
        operation_id="verifyMyPayment",
        summary="Ask the provider for the outcome (idempotent); the reservation follows",
        status_code=200,
        responses=answers(200, Payment, "The payment as it is now", *USER_ERRORS, *COMMAND_ERRORS),
    )
    async def verify(
        self,
        request: Request[Any, Any, Any],
        payment_id: PaymentId,
        payer: Payer,
        idempotency_key: OptionalKey = None,
    ) -> Response[bytes]:
        await services.owned_payment(payer.payment_ms, payer.user, payment_id)
        answer = await services.payment_command(
            payer.engine,
            payer.payment_ms,
            payment_id,
            "verify",
            content=await request.body(),
            idempotency_key=idempotency_key,
            retry=True,
        )
        return relay(answer)

    @post(
        "/{payment_id:uuid}/cancel",
        operation_id="cancelMyPayment",
        summary="Cancel an unsettled payment; the reservation becomes payable again",
        description="An authorized (manual capture) payment is held for the merchant: only an admin "
        "releases it (409 here).",
        status_code=200,
        responses=answers(200, Payment, "The canceled payment", *USER_ERRORS, *COMMAND_ERRORS),
    )
    async def cancel(
        self,
        request: Request[Any, Any, Any],
        payment_id: PaymentId,
        payer: Payer,
        idempotency_key: OptionalKey = None,
    ) -> Response[bytes]:
        owned = await services.owned_payment(payer.payment_ms, payer.user, payment_id)
        if owned.payment.status == "authorized":
            raise ConflictError(
                "An authorized payment is released by the merchant, not the payer.",
                extra={"payment_status": "authorized"},
            )
        answer = await services.payment_command(
            payer.engine,
            payer.payment_ms,
            payment_id,
            "cancel",
            content=await request.body(),
            idempotency_key=idempotency_key,
        )
        return relay(answer)


class PaymentGatewayPublicController(Controller):
    """No user token here: the health check, and Stripe (authenticated by its signature in payment_ms)."""

    path = "/payment-gateway"
    tags = ["payments"]
    dependencies = CLIENT
    exception_handlers = PASS_THROUGH

    @get(
        "/health/check",
        operation_id="healthCheck",
        summary="The gateway, payment_ms and the database",
        responses=problem_responses(503),
    )
    async def health_check(
        self, request: Request[Any, Any, Any], payment_ms: PaymentMsClient
    ) -> Response[Any]:
        async def payment_ms_ready() -> bool:
            try:
                async with asyncio.timeout(HEALTH_TIMEOUT_SECONDS):
                    return (await payment_ms.request("GET", "/ready", retry=False)).ok
            except (ApplicationError, TimeoutError):
                return False

        database_ok, payment_ms_ok = await asyncio.gather(
            database_is_reachable(request.app.state.db_engine), payment_ms_ready()
        )
        report = {
            "gateway": "ok",
            "database": "ok" if database_ok else "unavailable",
            "payment_ms": "ok" if payment_ms_ok else "unavailable",
        }
        if database_ok and payment_ms_ok:
            return Response({"status": "ok", **report}, media_type=MediaType.JSON)
        return problem_response(
            HTTP_503_SERVICE_UNAVAILABLE, "Degraded", code="degraded", extra={"status": "degraded", **report}
        )

    @post(
        "/webhooks/stripe",
        operation_id="stripeWebhook",
        summary="Stripe's events, forwarded to payment_ms byte for byte with their Stripe-Signature",
        status_code=200,
        # 400: the signature (or the event) is refused by payment_ms
        responses=answers(200, StripeWebhookReceipt, "The event was received", *INPUT, *UPSTREAM),
    )
    async def stripe_webhook(
        self, request: Request[Any, Any, Any], payment_ms: PaymentMsClient
    ) -> Response[bytes]:
        headers = {"Content-Type": request.headers.get("content-type", "application/json")}
        signature = request.headers.get("stripe-signature")
        if signature is not None:
            headers["Stripe-Signature"] = signature
        answer = await payment_ms.request(
            "POST",
            "/api/providers/stripe/webhook",
            content=await request.body(),
            headers=headers,
            retry=False,
        )
        return relay(services.ensure_ok(answer))


class AdminPaymentsController(Controller):
    path = "/admin/payments"
    tags = ["admin: payments"]
    guards = [requires_admin]
    dependencies = {**CLIENT, "current_user": Provide(provide_current_user, sync_to_thread=False)}
    exception_handlers = PASS_THROUGH
    security = [{"BearerToken": []}]

    @get(
        "/",
        operation_id="adminListPayments",
        summary="All payments, newest first (cursor pagination)",
        responses=answers(200, PaymentList, "A page of payments", *ADMIN_ERRORS),
    )
    async def list_(
        self,
        payment_ms: PaymentMsClient,
        status: PaymentStatus | None = None,
        provider: ProviderName | None = None,
        user_id: UUID | None = None,
        reservation_id: UUID | None = None,
        created_from: CreatedFrom = None,
        created_to: CreatedTo = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> Response[bytes]:
        params = _query(
            status=status,
            provider=provider,
            user_id=user_id,
            reservation_id=reservation_id,
            created_from=created_from,
            created_to=created_to,
            cursor=cursor,
            limit=limit,
        )
        return await _forward_get(payment_ms, "/api/payments", params)

    @get(
        "/stats/daily",
        operation_id="adminDailyStats",
        summary="Count and sum per UTC day, provider, status and currency",
        responses=answers(200, DailyPaymentStats, "The daily figures", *ADMIN_ERRORS),
    )
    async def daily_stats(
        self,
        payment_ms: PaymentMsClient,
        day_from: Annotated[date | None, QueryParameter(name="from", description="First UTC day")] = None,
        day_to: Annotated[
            date | None, QueryParameter(name="to", description="Last UTC day (inclusive)")
        ] = None,
    ) -> Response[bytes]:
        params = _query(**{"from": day_from, "to": day_to})
        return await _forward_get(payment_ms, "/api/payments/stats/daily", params)

    @get(
        "/{payment_id:uuid}",
        operation_id="adminGetPayment",
        summary="Any payment",
        responses=answers(200, Payment, "The payment", *ADMIN_ERRORS),
    )
    async def get_(
        self, payment_id: PaymentId, db_engine: AsyncEngine, payment_ms: PaymentMsClient
    ) -> Response[bytes]:
        answer = await payment_ms.request("GET", f"/api/payments/{payment_id}")
        return relay(await services.follow(db_engine, services.ensure_ok(answer)))

    @post(
        "/{payment_id:uuid}/refunds",
        operation_id="adminRefund",
        summary="Refund part (amount) or all",
        status_code=201,
        responses=answers(201, Payment, "The refunded payment", *ADMIN_ERRORS, *COMMAND_ERRORS),
    )
    async def refund(
        self,
        request: Request[Any, Any, Any],
        payment_id: PaymentId,
        data: RefundCreate,
        db_engine: AsyncEngine,
        payment_ms: PaymentMsClient,
        idempotency_key: OptionalKey = None,
    ) -> Response[bytes]:
        body = await strictly(request, data)
        return relay(
            await services.payment_command(
                db_engine, payment_ms, payment_id, "refunds", body=body, idempotency_key=idempotency_key
            )
        )

    @post(
        "/{payment_id:uuid}/capture",
        operation_id="adminCapture",
        summary="Capture an authorized payment: all of it, or `amount` (the rest is released)",
        description="Never more than was authorized (422). The payment becomes `succeeded` "
        "(`payment.captured` then `payment.succeeded`) and its reservation paid.",
        status_code=200,
        responses=answers(200, Payment, "The captured payment", *ADMIN_ERRORS, *COMMAND_ERRORS),
    )
    async def capture(
        self,
        request: Request[Any, Any, Any],
        payment_id: PaymentId,
        db_engine: AsyncEngine,
        payment_ms: PaymentMsClient,
        data: CaptureCreate | None = None,
        idempotency_key: OptionalKey = None,
    ) -> Response[bytes]:
        body = await strictly(request, data or CaptureCreate()) if await request.body() else CaptureCreate()
        return relay(
            await services.payment_command(
                db_engine, payment_ms, payment_id, "capture", body=body, idempotency_key=idempotency_key
            )
        )

    @post(
        "/{payment_id:uuid}/cancel",
        operation_id="adminCancel",
        summary="Cancel an unsettled payment, or release an authorized one (escrow)",
        description="`payment.canceled`; the reservation becomes payable again.",
        status_code=200,
        responses=answers(200, Payment, "The canceled payment", *ADMIN_ERRORS, *COMMAND_ERRORS),
    )
    async def cancel(
        self,
        request: Request[Any, Any, Any],
        payment_id: PaymentId,
        db_engine: AsyncEngine,
        payment_ms: PaymentMsClient,
        idempotency_key: OptionalKey = None,
    ) -> Response[bytes]:
        return relay(
            await services.payment_command(
                db_engine,
                payment_ms,
                payment_id,
                "cancel",
                content=await request.body(),
                idempotency_key=idempotency_key,
            )
        )

    @post(
        "/{payment_id:uuid}/confirm-cash",
        operation_id="adminConfirmCash",
        summary="Record that a cash payment was received (by the calling admin)",
        status_code=200,
        responses=answers(200, Payment, "The paid payment", *ADMIN_ERRORS, *COMMAND_ERRORS),
    )
    async def confirm_cash(
        self,
        payment_id: PaymentId,
        current_user: AuthUser,
        db_engine: AsyncEngine,
        payment_ms: PaymentMsClient,
        idempotency_key: OptionalKey = None,
    ) -> Response[bytes]:
        body = {"confirmed_by": current_user.email or str(current_user.id)}
        return relay(
            await services.payment_command(
                db_engine, payment_ms, payment_id, "confirm-cash", body=body, idempotency_key=idempotency_key
            )
        )


async def _forward_get(
    payment_ms: PaymentMsClient, path: str, params: list[tuple[str, str]] | None = None
) -> Response[bytes]:
    answer = await payment_ms.request("GET", path, params=params)
    return relay(services.ensure_ok(answer))


class AdminDeliveriesController(Controller):
    """The dispatcher's records in payment_ms, forwarded as they are."""

    path = "/admin"
    tags = ["admin: webhooks"]
    guards = [requires_admin]
    dependencies = CLIENT
    exception_handlers = PASS_THROUGH
    security = [{"BearerToken": []}]

    @get(
        "/events",
        operation_id="adminListEvents",
        summary="Outbox events, newest first (cursor pagination)",
        responses=answers(200, EventList, "A page of events", *ADMIN_ERRORS),
    )
    async def events(
        self,
        payment_ms: PaymentMsClient,
        payment_id: UUID | None = None,
        event_type: Annotated[EventType | None, QueryParameter(name="type")] = None,
        created_from: CreatedFrom = None,
        created_to: CreatedTo = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> Response[bytes]:
        params = _query(
            payment_id=payment_id,
            type=event_type,
            created_from=created_from,
            created_to=created_to,
            cursor=cursor,
            limit=limit,
        )
        return await _forward_get(payment_ms, "/api/events", params)

    @get(
        "/deliveries",
        operation_id="adminListDeliveries",
        summary="Webhook deliveries, newest first (cursor pagination)",
        responses=answers(200, DeliveryList, "A page of deliveries", *ADMIN_ERRORS),
    )
    async def deliveries(
        self,
        payment_ms: PaymentMsClient,
        status: DeliveryStatus | None = None,
        partner_id: UUID | None = None,
        event_id: UUID | None = None,
        created_from: CreatedFrom = None,
        created_to: CreatedTo = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> Response[bytes]:
        params = _query(
            status=status,
            partner_id=partner_id,
            event_id=event_id,
            created_from=created_from,
            created_to=created_to,
            cursor=cursor,
            limit=limit,
        )
        return await _forward_get(payment_ms, "/api/deliveries", params)

    @get(
        "/deliveries/{delivery_id:uuid}",
        operation_id="adminGetDelivery",
        summary="One delivery with its attempts",
        responses=answers(200, DeliveryDetail, "The delivery and every attempt", *ADMIN_ERRORS),
    )
    async def delivery(self, delivery_id: DeliveryId, payment_ms: PaymentMsClient) -> Response[bytes]:
        return await _forward_get(payment_ms, f"/api/deliveries/{delivery_id}")

    @post(
        "/deliveries/{delivery_id:uuid}/replay",
        operation_id="adminReplayDelivery",
        summary="Deliver again now (409 while a dispatcher is sending it)",
        status_code=202,
        responses=answers(202, Delivery, "The delivery, due now", *ADMIN_ERRORS, 409),
    )
    async def replay(self, delivery_id: DeliveryId, payment_ms: PaymentMsClient) -> Response[bytes]:
        answer = await payment_ms.request("POST", f"/api/deliveries/{delivery_id}/replay", retry=False)
        return relay(services.ensure_ok(answer))

    @post(
        "/partners/{partner_id:uuid}/deliveries/replay",
        operation_id="adminReplayPartnerDeliveries",
        summary="Deliver again every failed or canceled delivery of a partner created since a time",
        status_code=202,
        responses=answers(202, ReplayCount, "How many deliveries are due again", *ADMIN_ERRORS),
    )
    async def replay_partner(
        self,
        request: Request[Any, Any, Any],
        partner_id: PartnerId,
        data: ReplaySince,
        payment_ms: PaymentMsClient,
    ) -> Response[bytes]:
        body = await strictly(request, data)
        answer = await payment_ms.request(
            "POST",
            "/api/deliveries/replay",
            json={"partner_id": str(partner_id), "since": body.since.isoformat()},
            retry=False,
        )
        return relay(services.ensure_ok(answer))
