"""``/payment-gateway``: checkout and the payer's view of their own payments."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import Provide
from litestar.status_codes import HTTP_201_CREATED

from gateway.auth.guards import requires_user
from gateway.dependencies import strictly
from gateway.payments import services
from gateway.payments.dependencies import Payer, provide_payer
from gateway.payments.params import COMMAND_ERRORS, USER_ERRORS, OptionalKey, PaymentId, RequiredKey
from gateway.payments.schemas import CheckoutRequest, CheckoutResponse
from shared.contracts import Payment
from shared.problems import ConflictError, problem_responses


class PaymentGatewayController(Controller):
    path = "/payment-gateway"
    tags = ["payments"]
    guards = [requires_user]
    dependencies = {"payer": Provide(provide_payer, sync_to_thread=False)}
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
        settings = request.app.state.settings
        return await services.checkout(
            payer.engine,
            payer.payment_ms,
            settings,
            user=payer.user,
            data=await strictly(request, data),
            idempotency_key=idempotency_key,
            allow_dev_redirects=settings.paygate.is_dev,
        )

    @get(
        "/{payment_id:uuid}",
        operation_id="getMyPayment",
        summary="One of the caller's payments",
        responses=problem_responses(*USER_ERRORS),
    )
    async def get_payment(self, payment_id: PaymentId, payer: Payer) -> Payment:
        payment = await services.owned_payment(payer.payment_ms, payer.user, payment_id)
        return await services.follow(payer.engine, payment)

    @post(
        "/{payment_id:uuid}/verify",
        operation_id="verifyMyPayment",
        summary="Ask the provider for the outcome (idempotent); the reservation follows",
        status_code=200,
        responses=problem_responses(*USER_ERRORS, *COMMAND_ERRORS),
    )
    async def verify(
        self,
        request: Request[Any, Any, Any],
        payment_id: PaymentId,
        payer: Payer,
        idempotency_key: OptionalKey = None,
    ) -> Payment:
        await services.owned_payment(payer.payment_ms, payer.user, payment_id)
        return await payer.commands.verify(
            payment_id, idempotency_key=idempotency_key, raw_body=await request.body()
        )

    @post(
        "/{payment_id:uuid}/cancel",
        operation_id="cancelMyPayment",
        summary="Cancel an unsettled payment; the reservation becomes payable again",
        description="An authorized (manual capture) payment is held for the merchant: only an admin "
        "releases it (409 here).",
        status_code=200,
        responses=problem_responses(*USER_ERRORS, *COMMAND_ERRORS),
    )
    async def cancel(
        self,
        request: Request[Any, Any, Any],
        payment_id: PaymentId,
        payer: Payer,
        idempotency_key: OptionalKey = None,
    ) -> Payment:
        payment = await services.owned_payment(payer.payment_ms, payer.user, payment_id)
        if payment.status == "authorized":
            raise ConflictError(
                "An authorized payment is released by the merchant, not the payer.",
                extra={"payment_status": "authorized"},
            )
        return await payer.commands.cancel(
            payment_id, idempotency_key=idempotency_key, raw_body=await request.body()
        )
