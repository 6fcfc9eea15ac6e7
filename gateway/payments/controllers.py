"""``/payment-gateway``: checkout and the payer's view of their payments; admin passthroughs."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, MediaType, Request, Response, get, post
from litestar.di import Provide
from litestar.params import Parameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_503_SERVICE_UNAVAILABLE
from litestar.types import ExceptionHandlersMap
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.auth.dependencies import provide_current_user
from gateway.auth.guards import requires_admin, requires_user
from gateway.auth.tokens import AuthUser
from gateway.dependencies import strictly
from gateway.payments import services
from gateway.payments.client import PaymentMsClient, UpstreamResponse
from gateway.payments.dependencies import Payer, provide_payer, provide_payment_ms
from gateway.payments.schemas import CheckoutRequest, CheckoutResponse, ReplaySince
from gateway.settings import get_gateway_settings
from shared.contracts import RefundCreate
from shared.health import database_is_reachable
from shared.problems import ApplicationError, problem_response
from shared.settings import get_paygate_settings

PaymentId = Annotated[UUID, Parameter(description="Payment id")]
RequiredKey = Annotated[str, Parameter(header="Idempotency-Key", min_length=1, max_length=255)]
OptionalKey = Annotated[str | None, Parameter(header="Idempotency-Key", min_length=1, max_length=255)]
HEALTH_TIMEOUT_SECONDS = 2.0


def relay(answer: UpstreamResponse) -> Response[bytes]:
    return Response(content=answer.body, status_code=answer.status, media_type=answer.content_type)


def _pass_through(_: Request[Any, Any, Any], exc: services.PassThrough) -> Response[bytes]:
    return relay(exc.response)


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

    @get("/{payment_id:uuid}", operation_id="getMyPayment", summary="One of the caller's payments")
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
    )
    async def verify(
        self,
        payment_id: PaymentId,
        payer: Payer,
        idempotency_key: OptionalKey = None,
    ) -> Response[bytes]:
        await services.owned_payment(payer.payment_ms, payer.user, payment_id)
        answer = await services.payment_command(
            payer.engine, payer.payment_ms, payment_id, "verify", idempotency_key=idempotency_key, retry=True
        )
        return relay(answer)

    @post(
        "/{payment_id:uuid}/cancel",
        operation_id="cancelMyPayment",
        summary="Cancel an unsettled payment; the reservation becomes payable again",
        status_code=200,
    )
    async def cancel(
        self,
        payment_id: PaymentId,
        payer: Payer,
        idempotency_key: OptionalKey = None,
    ) -> Response[bytes]:
        await services.owned_payment(payer.payment_ms, payer.user, payment_id)
        answer = await services.payment_command(
            payer.engine, payer.payment_ms, payment_id, "cancel", idempotency_key=idempotency_key
        )
        return relay(answer)


class PaymentGatewayPublicController(Controller):
    """No user token here: the health check, and Stripe (authenticated by its signature in payment_ms)."""

    path = "/payment-gateway"
    tags = ["payments"]
    dependencies = CLIENT
    exception_handlers = PASS_THROUGH

    @get("/health/check", operation_id="healthCheck", summary="The gateway, payment_ms and the database")
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
        summary="payment_ms's payment list (filters: status, provider, user_id, reservation_id, "
        "created_from, created_to, cursor, limit)",
    )
    async def list_(self, request: Request[Any, Any, Any], payment_ms: PaymentMsClient) -> Response[bytes]:
        return await _forward_get(request, payment_ms, "/api/payments")

    @get("/stats/daily", operation_id="adminDailyStats", summary="Count and sum per day, provider, status")
    async def daily_stats(
        self, request: Request[Any, Any, Any], payment_ms: PaymentMsClient
    ) -> Response[bytes]:
        return await _forward_get(request, payment_ms, "/api/payments/stats/daily")

    @get("/{payment_id:uuid}", operation_id="adminGetPayment", summary="Any payment")
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
        summary="Capture an authorized payment",
        status_code=200,
    )
    async def capture(
        self,
        payment_id: PaymentId,
        db_engine: AsyncEngine,
        payment_ms: PaymentMsClient,
        idempotency_key: OptionalKey = None,
    ) -> Response[bytes]:
        return relay(
            await services.payment_command(
                db_engine, payment_ms, payment_id, "capture", idempotency_key=idempotency_key
            )
        )

    @post(
        "/{payment_id:uuid}/confirm-cash",
        operation_id="adminConfirmCash",
        summary="Record that a cash payment was received (by the calling admin)",
        status_code=200,
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
    request: Request[Any, Any, Any], payment_ms: PaymentMsClient, path: str
) -> Response[bytes]:
    answer = await payment_ms.request("GET", path, params=list(request.query_params.multi_items()))
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
        summary="Outbox events (filters: payment_id, type, created range)",
    )
    async def events(self, request: Request[Any, Any, Any], payment_ms: PaymentMsClient) -> Response[bytes]:
        return await _forward_get(request, payment_ms, "/api/events")

    @get(
        "/deliveries",
        operation_id="adminListDeliveries",
        summary="Webhook deliveries (filters: status, partner_id, event_id, created range)",
    )
    async def deliveries(
        self, request: Request[Any, Any, Any], payment_ms: PaymentMsClient
    ) -> Response[bytes]:
        return await _forward_get(request, payment_ms, "/api/deliveries")

    @get(
        "/deliveries/{delivery_id:uuid}",
        operation_id="adminGetDelivery",
        summary="One delivery with its attempts",
    )
    async def delivery(
        self, request: Request[Any, Any, Any], delivery_id: UUID, payment_ms: PaymentMsClient
    ) -> Response[bytes]:
        return await _forward_get(request, payment_ms, f"/api/deliveries/{delivery_id}")

    @post(
        "/deliveries/{delivery_id:uuid}/replay",
        operation_id="adminReplayDelivery",
        summary="Deliver again",
        status_code=202,
    )
    async def replay(self, delivery_id: UUID, payment_ms: PaymentMsClient) -> Response[bytes]:
        answer = await payment_ms.request("POST", f"/api/deliveries/{delivery_id}/replay", retry=False)
        return relay(services.ensure_ok(answer))

    @post(
        "/partners/{partner_id:uuid}/deliveries/replay",
        operation_id="adminReplayPartnerDeliveries",
        summary="Deliver again everything a partner was sent since a time",
        status_code=202,
    )
    async def replay_partner(
        self,
        request: Request[Any, Any, Any],
        partner_id: UUID,
        data: ReplaySince,
        payment_ms: PaymentMsClient,
    ) -> Response[bytes]:
        body = await strictly(request, data)
        answer = await payment_ms.request(
            "POST",
            "/api/deliveries/replay",
            json={"partner_id": str(partner_id), "since": body.since},
            retry=False,
        )
        return relay(services.ensure_ok(answer))
