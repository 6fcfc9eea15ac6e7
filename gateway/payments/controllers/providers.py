"""``/payment-gateway/webhooks/*``: the providers' callbacks. No user token: Stripe is authenticated
by its signature, which payment_ms checks on the bytes forwarded unchanged."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, post

from gateway.openapi import INPUT, UPSTREAM
from gateway.payments.dependencies import PaymentMs
from shared.contracts import StripeSignature, StripeWebhookReceipt
from shared.operations import operation


class ProviderWebhookController(Controller):
    path = "/payment-gateway/webhooks"
    tags = ["payments"]

    # 400: no signature, or an event payment_ms cannot read; 401: the signature does not verify
    @operation(post, "/stripe", "stripeWebhook", (*INPUT, 401, *UPSTREAM), status_code=200)
    async def stripe_webhook(
        self, request: Request[Any, Any, Any], payment_ms: PaymentMs, stripe_signature: StripeSignature
    ) -> StripeWebhookReceipt:
        """Stripe's events, forwarded to payment_ms byte for byte with their Stripe-Signature"""
        return await payment_ms.stripe_webhook(
            await request.body(),
            content_type=request.headers.get("content-type", "application/json"),
            signature=stripe_signature,
        )
