"""``/payment-gateway/webhooks/*``: the providers' callbacks. No user token: Stripe is authenticated
by its signature, which payment_ms checks on the bytes forwarded unchanged."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, post

from gateway.openapi import INPUT, UPSTREAM
from gateway.payments.client import PaymentMsClient
from shared.contracts import StripeSignature, StripeWebhookReceipt
from shared.problems import problem_responses


class ProviderWebhookController(Controller):
    path = "/payment-gateway/webhooks"
    tags = ["payments"]

    @post(
        "/stripe",
        operation_id="stripeWebhook",
        summary="Stripe's events, forwarded to payment_ms byte for byte with their Stripe-Signature",
        status_code=200,
        # 400: no signature, or an event payment_ms cannot read; 401: the signature does not verify
        responses=problem_responses(*INPUT, 401, *UPSTREAM),
    )
    async def stripe_webhook(
        self,
        request: Request[Any, Any, Any],
        payment_ms: PaymentMsClient,
        stripe_signature: StripeSignature,
    ) -> StripeWebhookReceipt:
        return await payment_ms.stripe_webhook(
            await request.body(),
            content_type=request.headers.get("content-type", "application/json"),
            signature=stripe_signature,
        )
