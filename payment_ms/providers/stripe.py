"""Stripe through its HTTP API with httpx (form-encoded, ``Authorization: Bearer sk_…``).

Checkout Sessions are created with our own ``Idempotency-Key`` (derived from the payment id, so a retry
after a crash gets the same session), retrieved for verify and expired for cancel; manual capture and
release go through the PaymentIntent; refunds through ``/v1/refunds``. Amounts are converted from ISO
4217 minor units to Stripe's (``to_stripe_amount``: ISK x100, MGA /100), or refused with 422.

Every request pins ``Stripe-Version`` (``PAYMENT_MS_STRIPE_API_VERSION``): the shapes read here are
that version's, whatever the account's default. Each operator command (capture, refund, cancel) brings
its own idempotency key (stored with the command, ``payment_commands``): Stripe stores the first answer
for a key, errors included, so a refusal must never answer the next command.

Retries (tenacity) happen only on timeouts, transport errors, 409 (another request holds the key or
the object), 429 and 5xx, and only for GETs or POSTs that carry an ``Idempotency-Key``: there Stripe
guarantees a retry cannot act twice. ``Stripe-Should-Retry`` overrides the status: ``false`` stops,
``true`` retries.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

import httpx
from sqlalchemy import RowMapping
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from payment_ms.providers.base import (
    CheckoutSession,
    Outcome,
    Provider,
    ProviderRefund,
    ProviderRefusedError,
    ProviderTimeoutError,
    ProviderUnavailableError,
)
from payment_ms.providers.stripe_objects import (
    form_encode,
    outcome_from_session,
    refund_from_object,
    to_stripe_amount,
)
from payment_ms.settings import PaymentSettings
from shared.contracts import PaymentCreate

logger = logging.getLogger("payment_ms.stripe")

RETRYABLE_STATUS = frozenset({409, 429, 500, 502, 503, 504})


def _should_retry(response: httpx.Response) -> bool:
    """Stripe's own word first (``Stripe-Should-Retry``), else the status."""
    advice = response.headers.get("stripe-should-retry")
    if advice == "true":
        return True
    if advice == "false":
        return False
    return response.status_code in RETRYABLE_STATUS


class _RetryableStatusError(Exception):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"stripe answered {response.status_code}")
        self.response = response


class StripeProvider(Provider):
    name = "stripe"
    remote = True

    def __init__(self, settings: PaymentSettings) -> None:
        super().__init__(settings)
        self._client = httpx.AsyncClient(
            base_url=settings.stripe_api_base,
            timeout=httpx.Timeout(settings.provider_timeout_seconds / 2, connect=3.0),
            headers={
                "Authorization": f"Bearer {settings.stripe_secret_key.get_secret_value()}",
                "Stripe-Version": settings.stripe_api_version,
            },
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _request(
        self,
        method: str,
        path: str,
        *,
        data: Mapping[str, Any] | None = None,
        params: dict[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        content = form_encode(data) if data else None
        retry_safe = method == "GET" or idempotency_key is not None

        async def send() -> httpx.Response:
            response = await self._client.request(
                method,
                path,
                data=dict(content) if content else None,
                params=params,
                headers=headers,
            )
            if retry_safe and _should_retry(response):
                raise _RetryableStatusError(response)
            return response

        def retryable(exc: BaseException) -> bool:
            return retry_safe and isinstance(exc, httpx.TransportError | _RetryableStatusError)

        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(self.settings.stripe_max_attempts),
                wait=wait_exponential_jitter(multiplier=0.05, max=1.0),
                retry=retry_if_exception(retryable),
                reraise=True,
            ):
                with attempt:
                    response = await send()
        except _RetryableStatusError as exc:
            response = exc.response
        except httpx.TimeoutException:
            raise ProviderTimeoutError(f"stripe did not answer {method} {path} in time") from None
        except httpx.TransportError as exc:
            raise ProviderUnavailableError(f"stripe unreachable: {type(exc).__name__}") from None
        return self._parse(response, method, path)

    @staticmethod
    def _parse(response: httpx.Response, method: str, path: str) -> dict[str, Any]:
        try:
            body: dict[str, Any] = response.json()
        except ValueError:
            body = {}
        if response.is_success:
            return body
        error: dict[str, Any] = body["error"] if isinstance(body.get("error"), dict) else {}
        code = error.get("code") or error.get("type") or "unknown"
        logger.warning("stripe %s %s answered %s (%s)", method, path, response.status_code, code)
        if response.status_code in (400, 402, 404):
            message = str(error.get("message") or "")[:200]
            raise ProviderRefusedError(
                f"stripe refused: {code}. {message}".strip(), extra={"provider_code": code}
            )
        raise ProviderUnavailableError(f"stripe answered {response.status_code} ({code})")

    async def create_checkout(self, payment_id: uuid.UUID, data: PaymentCreate) -> CheckoutSession:
        unit_amount = to_stripe_amount(data.currency, data.amount)  # before any request: 422, not a charge
        intent_data: dict[str, Any] = {"metadata": {"payment_id": str(payment_id)}}
        if data.capture_method == "manual":
            intent_data["capture_method"] = "manual"
        session = await self._request(
            "POST",
            "/v1/checkout/sessions",
            data={
                "mode": "payment",
                "success_url": data.return_url,
                "cancel_url": data.cancel_url,
                "client_reference_id": str(payment_id),
                "customer_email": data.payer_email,
                "line_items": [
                    {
                        "quantity": 1,
                        "price_data": {
                            "currency": data.currency.lower(),
                            "unit_amount": unit_amount,
                            "product_data": {"name": data.description or "Payment"},
                        },
                    }
                ],
                "metadata": {"payment_id": str(payment_id)},
                "payment_intent_data": intent_data,
            },
            idempotency_key=f"paygate-checkout-{payment_id}",
        )
        return CheckoutSession(
            session_id=session["id"],
            checkout_url=session.get("url"),
            provider_status=f"{session.get('status')}/{session.get('payment_status')}"[:32],
        )

    async def fetch_outcome(self, payment: RowMapping) -> Outcome:
        session = await self._request(
            "GET",
            f"/v1/checkout/sessions/{payment['provider_session_id']}",
            params={"expand[]": "payment_intent"},
        )
        return outcome_from_session(session, payment["capture_method"])

    async def cancel(self, payment: RowMapping, idempotency_key: str) -> str | None:
        if payment["status"] == "authorized":
            intent = await self._request(
                "POST", f"/v1/payment_intents/{self._intent(payment)}/cancel", idempotency_key=idempotency_key
            )
            return f"intent/{intent.get('status')}"[:32]
        session = await self._request(
            "POST",
            f"/v1/checkout/sessions/{payment['provider_session_id']}/expire",
            idempotency_key=idempotency_key,
        )
        return f"{session.get('status')}/{session.get('payment_status')}"[:32]

    async def capture(self, payment: RowMapping, amount: int, idempotency_key: str) -> str | None:
        intent = await self._request(
            "POST",
            f"/v1/payment_intents/{self._intent(payment)}/capture",
            data={"amount_to_capture": to_stripe_amount(payment["currency"], amount)},
            idempotency_key=idempotency_key,
        )
        if intent.get("status") != "succeeded":
            raise ProviderRefusedError(f"stripe left the payment intent {intent.get('status')}")
        return f"intent/{intent.get('status')}"[:32]

    async def refund(self, payment: RowMapping, amount: int, idempotency_key: str) -> ProviderRefund:
        stripe_amount = to_stripe_amount(payment["currency"], amount)
        refund = await self._request(
            "POST",
            "/v1/refunds",
            data={
                "payment_intent": self._intent(payment),
                "amount": stripe_amount,
                "metadata": {"payment_id": str(payment["id"])},
            },
            idempotency_key=idempotency_key,
        )
        answer = refund_from_object(refund)
        if answer.status == "failed":
            raise ProviderRefusedError(f"stripe refund {refund.get('status')}")
        return ProviderRefund(answer.refund_id, answer.status, amount)

    async def charge_refunds(self, charge_id: str) -> list[ProviderRefund]:
        """Every refund of a charge (``charge.refunded`` lists them only when expanded)."""
        page = await self._request("GET", "/v1/refunds", params={"charge": charge_id, "limit": "100"})
        return [refund_from_object(item) for item in page.get("data") or [] if isinstance(item, Mapping)]

    @staticmethod
    def _intent(payment: RowMapping) -> str:
        intent: str | None = payment["provider_payment_id"]
        if not intent:
            raise ProviderRefusedError("no stripe payment intent is known for this payment; verify it first")
        return intent
