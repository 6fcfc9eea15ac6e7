"""``/payment-gateway``: checkout and the payer's view of their own payments."""

from __future__ import annotations

from litestar import Request, get, post
from litestar.di import Provide
from litestar.params import JSONBody
from litestar.status_codes import HTTP_201_CREATED

from gateway.auth.audiences import UserController
from gateway.dependencies import strictly
from gateway.payments import services
from gateway.payments.dependencies import Payer, provide_payer
from gateway.payments.params import USER_COMMAND_ERRORS, USER_ERRORS, OptionalKey, PaymentId, RequiredKey
from gateway.payments.schemas import CheckoutRequest, CheckoutResponse
from shared.contracts import Payment
from shared.operations import operation
from shared.problems import ConflictError


class PaymentGatewayController(UserController):
    path = "/payment-gateway"
    tags = ["payments"]
    dependencies = {"payer": Provide(provide_payer, sync_to_thread=False)}

    @operation(post, "/reservations/checkout", "checkout", USER_COMMAND_ERRORS, status_code=HTTP_201_CREATED)
    async def checkout(
        self, request: Request, data: JSONBody[CheckoutRequest], idempotency_key: RequiredKey, payer: Payer
    ) -> CheckoutResponse:
        """Start paying for one of the caller's reservations

        Amount and currency come from the reservation. `Idempotency-Key` is required: a retry with the same
        key answers the payment the first request created; a concurrent checkout of the same reservation
        gets 409.
        """
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

    @operation(get, "/{payment_id:uuid}", "getMyPayment", USER_ERRORS)
    async def get_payment(self, payment_id: PaymentId, payer: Payer) -> Payment:
        """One of the caller's payments"""
        payment = await services.owned_payment(payer.payment_ms, payer.user, payment_id)
        return await services.follow(payer.engine, payment)

    @operation(post, "/{payment_id:uuid}/verify", "verifyMyPayment", USER_COMMAND_ERRORS, status_code=200)
    async def verify(
        self, request: Request, payment_id: PaymentId, payer: Payer, idempotency_key: OptionalKey = None
    ) -> Payment:
        """Ask the provider for the outcome (idempotent); the reservation follows"""
        await services.owned_payment(payer.payment_ms, payer.user, payment_id)
        raw_body = await request.body()
        return await payer.commands.verify(payment_id, idempotency_key=idempotency_key, raw_body=raw_body)

    @operation(post, "/{payment_id:uuid}/cancel", "cancelMyPayment", USER_COMMAND_ERRORS, status_code=200)
    async def cancel(
        self, request: Request, payment_id: PaymentId, payer: Payer, idempotency_key: OptionalKey = None
    ) -> Payment:
        """Cancel an unsettled payment; the reservation becomes payable again

        An authorized (manual capture) payment is held for the merchant: only an admin releases it (409
        here).
        """
        payment = await services.owned_payment(payer.payment_ms, payer.user, payment_id)
        if payment.status == "authorized":
            raise ConflictError(
                "An authorized payment is released by the merchant, not the payer.",
                extra={"payment_status": "authorized"},
            )
        raw_body = await request.body()
        return await payer.commands.cancel(payment_id, idempotency_key=idempotency_key, raw_body=raw_body)
