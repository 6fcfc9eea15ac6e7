"""Forwarding payment calls to payment_ms with the gateway's checks around them.

- Checkout takes the amount from the reservation, checks ownership and payability, and holds the
  reservation's row lock (``FOR UPDATE NOWAIT``) while payment_ms creates the payment: a concurrent
  checkout of the same reservation gets 409 at once instead of creating a second live payment.
- The key sent to payment_ms is the client's ``Idempotency-Key`` for a reservation's first payment,
  and ``sha256(key:previous payment)`` after that, so a key that once paid for a payment which later
  failed can never replay that dead payment onto the reservation. A same-key retry of a checkout that
  already went through answers the payment it created, in its current state (recognised by a hash
  of the key kept in the payment's metadata), never a second payment.
- Every answer from payment_ms about a payment also moves its reservation (``apply_payment``).
- Someone else's payment is reported exactly like a missing one.
"""

from __future__ import annotations

import hashlib
import uuid

import msgspec
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.auth.tokens import AuthUser
from gateway.payments.client import BadGatewayError, PaymentMsClient, UpstreamResponse, logger
from gateway.payments.redirects import check_redirect_url
from gateway.payments.schemas import CheckoutRequest, CheckoutResponse
from gateway.reservations import repositories as reservations
from gateway.reservations.services import apply_payment, follow_payment
from gateway.settings import GatewaySettings
from shared.contracts import Payment, PaymentCreate
from shared.problems import ConflictError, NotFoundError

NO_SUCH_PAYMENT = "No such payment."
CHECKOUT_KEY_METADATA = "checkout_key"
_LOCK_NOT_AVAILABLE = "55P03"


class PassThrough(Exception):
    """payment_ms's answer goes back to the caller as it is (its 4xx problem, or its 502/503/504)."""

    def __init__(self, response: UpstreamResponse) -> None:
        super().__init__(response.status)
        self.response = response


def ensure_ok(response: UpstreamResponse) -> UpstreamResponse:
    if response.ok:
        return response
    if response.status in (401, 403):  # our service token is wrong: the caller can do nothing about it
        logger.error("payment_ms refused the gateway's service token (status %s)", response.status)
        raise BadGatewayError("The payment service refused the gateway.")
    if 400 <= response.status < 500 or response.status in (502, 503, 504):
        raise PassThrough(response)
    raise BadGatewayError(f"The payment service failed (status {response.status}).")


def decode_payment(response: UpstreamResponse) -> Payment:
    try:
        return msgspec.json.decode(response.body, type=Payment)
    except msgspec.DecodeError:
        raise BadGatewayError("The payment service answered something that is not a payment.") from None


def key_fingerprint(idempotency_key: str) -> str:
    return hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]


def upstream_key(idempotency_key: str, previous_payment_id: uuid.UUID | None) -> str:
    if previous_payment_id is None:
        return idempotency_key
    return hashlib.sha256(f"{idempotency_key}:{previous_payment_id}".encode()).hexdigest()


def _response(payment: Payment) -> CheckoutResponse:
    return CheckoutResponse(
        payment_id=payment.id,
        status=payment.status,
        checkout_url=payment.checkout_url,
        reservation_id=payment.reservation_id,
    )


def _is_lock_not_available(exc: DBAPIError) -> bool:
    return getattr(exc.orig, "sqlstate", None) == _LOCK_NOT_AVAILABLE


async def checkout(
    session: AsyncSession,
    client: PaymentMsClient,
    settings: GatewaySettings,
    *,
    user: AuthUser,
    data: CheckoutRequest,
    idempotency_key: str,
    allow_dev_redirects: bool,
) -> CheckoutResponse:
    for field, url in (("return_url", data.return_url), ("cancel_url", data.cancel_url)):
        check_redirect_url(
            field, url, allowed_origins=settings.allowed_redirect_origins, allow_dev_hosts=allow_dev_redirects
        )
    try:
        async with session.begin():
            return await _checkout_locked(
                session, client, user=user, data=data, idempotency_key=idempotency_key
            )
    except DBAPIError as exc:
        if not _is_lock_not_available(exc):
            raise
        raise ConflictError(
            "A checkout of this reservation is in progress; retry shortly.", headers={"Retry-After": "1"}
        ) from None


async def _checkout_locked(
    session: AsyncSession,
    client: PaymentMsClient,
    *,
    user: AuthUser,
    data: CheckoutRequest,
    idempotency_key: str,
) -> CheckoutResponse:
    reservation = await reservations.get(
        session, data.reservation_id, owner_id=user.id, for_update=True, nowait=True
    )
    if reservation is None:
        raise NotFoundError("No such reservation.")
    fingerprint = key_fingerprint(idempotency_key)
    if reservation.payment_id is not None:
        current = ensure_ok(await client.request("GET", f"/api/payments/{reservation.payment_id}"))
        payment = decode_payment(current)
        follow_payment(reservation, payment.id, payment.status)
        if payment.metadata.get(CHECKOUT_KEY_METADATA) == fingerprint:
            return _response(payment)  # the same checkout retried: its payment, as it is now
    if reservation.status != "payable":
        raise ConflictError(
            "This reservation is not payable.",
            extra={"reservation_status": reservation.status, "payment_id": str(reservation.payment_id)},
        )
    create = PaymentCreate(
        reservation_id=reservation.id,
        user_id=user.id,
        amount=reservation.amount,
        currency=reservation.currency,
        description=reservation.description,
        payer_email=user.email,
        return_url=data.return_url,
        cancel_url=data.cancel_url,
        metadata={CHECKOUT_KEY_METADATA: fingerprint},
    )
    answer = ensure_ok(
        await client.request(
            "POST",
            "/api/payments",
            json=create,
            idempotency_key=upstream_key(idempotency_key, reservation.payment_id),
        )
    )
    payment = decode_payment(answer)
    reservation.payment_id = payment.id
    reservation.payment_status = None
    follow_payment(reservation, payment.id, payment.status)
    return _response(payment)


async def owned_payment(client: PaymentMsClient, user: AuthUser, payment_id: uuid.UUID) -> UpstreamResponse:
    answer = await client.request("GET", f"/api/payments/{payment_id}")
    if answer.status == 404:
        raise NotFoundError(NO_SUCH_PAYMENT)
    payment = decode_payment(ensure_ok(answer))
    if payment.user_id != user.id:
        raise NotFoundError(NO_SUCH_PAYMENT)
    return answer


async def follow(session: AsyncSession, answer: UpstreamResponse) -> UpstreamResponse:
    """Let the reservation learn what payment_ms just said about its payment."""
    async with session.begin():
        await apply_payment(session, decode_payment(answer))
    return answer


async def payment_command(
    session: AsyncSession,
    client: PaymentMsClient,
    payment_id: uuid.UUID,
    action: str,
    *,
    body: object = None,
    idempotency_key: str | None = None,
    retry: bool | None = None,
) -> UpstreamResponse:
    answer = await client.request(
        "POST",
        f"/api/payments/{payment_id}/{action}",
        json=body,
        idempotency_key=idempotency_key,
        retry=retry,
    )
    if answer.status == 404:
        raise NotFoundError(NO_SUCH_PAYMENT)
    return await follow(session, ensure_ok(answer))
