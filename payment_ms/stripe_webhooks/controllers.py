"""``POST /api/providers/stripe/webhook``: Stripe's signature is the authentication (no service token)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, post
from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncEngine

from payment_ms.stripe_webhooks import services, signature
from shared import routes
from shared.contracts import StripeSignature, StripeWebhookReceipt
from shared.problems import AuthenticationError, problem_responses


class StripeWebhookController(Controller):
    path = "/"
    tags = ["providers"]

    @post(
        routes.STRIPE_WEBHOOK,
        operation_id="stripeWebhook",
        status_code=200,
        summary="Stripe events (signed)",
        description="A Stripe event, authenticated by its `Stripe-Signature` (no service token).",
        # 401: the signature does not verify (or no webhook secret is configured to verify it with)
        responses=problem_responses(400, 401, 413, 503),
    )
    async def webhook(
        self,
        request: Request[Any, Any, Any],
        engine: NamedDependency[AsyncEngine],
        stripe_signature: StripeSignature,
    ) -> StripeWebhookReceipt:
        payload = await request.body()
        settings = request.app.state.settings
        try:
            signature.verify(
                payload,
                stripe_signature,
                [secret.get_secret_value() for secret in settings.stripe_webhook_secrets],
                tolerance_seconds=settings.stripe_webhook_tolerance_seconds,
            )
        except signature.SignatureError as exc:
            raise AuthenticationError(f"invalid Stripe signature: {exc}") from None
        processed = await services.handle_event(engine, request.app.state.providers, payload)
        return StripeWebhookReceipt(received=True, duplicate=not processed)
