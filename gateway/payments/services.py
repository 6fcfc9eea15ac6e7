"""Forwarding payment calls to payment_ms with the gateway's checks around them.

- Checkout takes the amount from the reservation, checks ownership and payability, and claims the
  reservation (``pending``) in one statement before payment_ms creates the payment, then points it at
  the payment in a second one: no row lock or connection is held across the HTTP call, and a
  concurrent checkout of the same reservation gets 409 at once instead of creating a second live
  payment. A failed create releases the claim; a gateway that dies mid-checkout leaves a claim that
  expires after twice ``GATEWAY_PAYMENT_MS_TIMEOUT``.
- IETF-exact: the same key with another body (another reservation, return URL, capture method…) is
  422 and changes nothing. The payment keeps hashes of its key and of its checkout request in its
  metadata; payment_ms fingerprints the body it receives for the first payment of a key.
- The capture method is the reservation's when its admin set one (asking for the other is 422), else
  the request's, else automatic.
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
from collections.abc import Awaitable

import asyncpg
import msgspec
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.auth.tokens import AuthUser
from gateway.payments.client import PaymentMsClient, UpstreamProblem
from gateway.payments.redirects import check_redirect_url
from gateway.payments.schemas import CheckoutRequest, CheckoutResponse
from gateway.reservations import repositories as reservations
from gateway.reservations.services import (
    LIVE_PAYMENT_STATUSES,
    RESERVATION_STATUS_FOR_PAYMENT,
    apply_payment,
)
from gateway.settings import GatewaySettings
from shared.contracts import (
    Actor,
    CaptureCreate,
    CaptureMethod,
    CashConfirmation,
    Payment,
    PaymentCreate,
    RefundCreate,
)
from shared.db import raw_connection
from shared.problems import ConflictError, IdempotencyKeyReusedError, InvalidInputError, NotFoundError

NO_SUCH_PAYMENT = "No such payment."
CHECKOUT_KEY_METADATA = "checkout_key"
CHECKOUT_REQUEST_METADATA = "checkout_request"


def key_fingerprint(idempotency_key: str) -> str:
    return hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]


def request_fingerprint(data: CheckoutRequest) -> str:
    return hashlib.sha256(msgspec.json.encode(data, order="sorted")).hexdigest()[:32]


def _same_checkout(payment: Payment, key_hash: str, request_hash: str) -> bool:
    """This key's payment (its retry): True; another key's: False; this key with another body: 422."""
    if payment.metadata.get(CHECKOUT_KEY_METADATA) != key_hash:
        return False
    if payment.metadata.get(CHECKOUT_REQUEST_METADATA, request_hash) != request_hash:
        raise IdempotencyKeyReusedError()
    return True


def _capture_method(reserved: str | None, asked: str | None) -> CaptureMethod:
    if reserved is not None and asked is not None and reserved != asked:
        raise InvalidInputError(
            f"this reservation is paid with capture_method {reserved}", extra={"field": "capture_method"}
        )
    chosen = reserved or asked or "automatic"
    return "manual" if chosen == "manual" else "automatic"


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


async def checkout(
    engine: AsyncEngine,
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
    fingerprint = key_fingerprint(idempotency_key)
    request_hash = request_fingerprint(data)
    claimed = await _claim(
        engine, client, settings, user=user, data=data, fingerprint=fingerprint, request_hash=request_hash
    )
    if isinstance(claimed, CheckoutResponse):
        return claimed
    previous = claimed["payment_id"]
    try:
        capture_method = _capture_method(claimed["capture_method"], data.capture_method)
        if previous is not None:
            payment = await _current_payment(engine, client, previous)
            if _same_checkout(payment, fingerprint, request_hash):
                await _release(engine, data.reservation_id, previous)
                return _response(payment)  # this key's payment, which is over: never a second one
        create = PaymentCreate(
            reservation_id=data.reservation_id,
            user_id=user.id,
            amount=claimed["amount"],
            currency=claimed["currency"],
            description=claimed["description"],
            payer_email=user.email,
            return_url=data.return_url,
            cancel_url=data.cancel_url,
            metadata={CHECKOUT_KEY_METADATA: fingerprint, CHECKOUT_REQUEST_METADATA: request_hash},
            capture_method=capture_method,
        )
        payment = await client.create_payment(create, idempotency_key=upstream_key(idempotency_key, previous))
    except BaseException:
        await _release(engine, data.reservation_id, previous)
        raise
    async with raw_connection(engine) as conn:
        recorded = await reservations.record_checkout(
            conn,
            data.reservation_id,
            previous_payment_id=previous,
            payment_id=payment.id,
            payment_status=payment.status,
            status=RESERVATION_STATUS_FOR_PAYMENT[payment.status],
        )
    if not recorded:  # the claim ran out (stale_after) and another checkout took the reservation over
        raise ConflictError("The checkout took too long; retry.", headers={"Retry-After": "1"})
    return _response(payment)


async def _claim(
    engine: AsyncEngine,
    client: PaymentMsClient,
    settings: GatewaySettings,
    *,
    user: AuthUser,
    data: CheckoutRequest,
    fingerprint: str,
    request_hash: str,
) -> asyncpg.Record | CheckoutResponse:
    """Claim the reservation for this checkout, or say why not (404, 409), or answer the payment this
    key already made. A reservation that looks taken is checked against payment_ms once: its payment
    may have ended without the gateway hearing of it yet."""
    stale_after = 2 * settings.payment_ms_timeout
    for _ in range(2):
        async with raw_connection(engine) as conn:
            claimed = await reservations.claim_for_checkout(
                conn, data.reservation_id, user.id, stale_after_seconds=stale_after
            )
            if claimed is not None:
                return claimed
            state = await reservations.owned_state(conn, data.reservation_id, user.id)
        if state is None:
            raise NotFoundError("No such reservation.")
        if reservations.is_checkout_claim(state["status"], state["payment_status"]):
            raise ConflictError(
                "A checkout of this reservation is in progress; retry shortly.", headers={"Retry-After": "1"}
            )
        if state["payment_id"] is not None:
            payment = await _current_payment(engine, client, state["payment_id"])
            if _same_checkout(payment, fingerprint, request_hash):
                return _response(payment)  # the same checkout retried: its payment, as it is now
            if payment.status not in LIVE_PAYMENT_STATUSES and state["status"] == "pending":
                continue  # its payment is over: the reservation is payable again
        raise ConflictError(
            "This reservation is not payable.",
            extra={"reservation_status": state["status"], "payment_id": str(state["payment_id"])},
        )
    raise ConflictError(
        "A checkout of this reservation is in progress; retry shortly.", headers={"Retry-After": "1"}
    )


async def _current_payment(engine: AsyncEngine, client: PaymentMsClient, payment_id: uuid.UUID) -> Payment:
    payment = await client.get_payment(payment_id)
    await apply_payment(engine, payment)
    return payment


async def _release(engine: AsyncEngine, reservation_id: uuid.UUID, previous: uuid.UUID | None) -> None:
    async with raw_connection(engine) as conn:
        await reservations.release_checkout(conn, reservation_id, previous_payment_id=previous)


async def owned_payment(client: PaymentMsClient, user: AuthUser, payment_id: uuid.UUID) -> Payment:
    """The caller's payment; someone else's is as missing as one that does not exist."""
    try:
        payment = await client.get_payment(payment_id)
    except UpstreamProblem as exc:
        if exc.status_code == 404:
            raise NotFoundError(NO_SUCH_PAYMENT) from None
        raise
    if payment.user_id != user.id:
        raise NotFoundError(NO_SUCH_PAYMENT)
    return payment


async def follow(engine: AsyncEngine, payment: Payment) -> Payment:
    """Let the reservation learn what payment_ms just said about its payment."""
    await apply_payment(engine, payment)
    return payment


class PaymentCommands:
    """The commands on one payment, each moving its reservation along with the answer; a payment
    payment_ms does not know is the gateway's own 404."""

    def __init__(self, engine: AsyncEngine, client: PaymentMsClient, *, actor: Actor) -> None:
        self._engine = engine
        self._client = client
        self._actor: Actor = actor  # who verifies or cancels: the payer, or an operator

    # ``raw_body``: the caller's body on a route that reads none, passed on for payment_ms's idempotency
    # fingerprint (the same key with another body is 422).

    async def verify(
        self, payment_id: uuid.UUID, *, idempotency_key: str | None, raw_body: bytes | None = None
    ) -> Payment:
        return await self._follow(
            self._client.verify(
                payment_id, actor=self._actor, idempotency_key=idempotency_key, raw_body=raw_body
            )
        )

    async def cancel(
        self, payment_id: uuid.UUID, *, idempotency_key: str | None, raw_body: bytes | None = None
    ) -> Payment:
        return await self._follow(
            self._client.cancel(
                payment_id, actor=self._actor, idempotency_key=idempotency_key, raw_body=raw_body
            )
        )

    async def capture(
        self, payment_id: uuid.UUID, data: CaptureCreate | None = None, *, idempotency_key: str | None
    ) -> Payment:
        """``data`` None (or without ``amount``): the whole authorization."""
        return await self._follow(self._client.capture(payment_id, data, idempotency_key=idempotency_key))

    async def refund(
        self, payment_id: uuid.UUID, data: RefundCreate, *, idempotency_key: str | None
    ) -> Payment:
        return await self._follow(self._client.refund(payment_id, data, idempotency_key=idempotency_key))

    async def confirm_cash(
        self, payment_id: uuid.UUID, data: CashConfirmation, *, idempotency_key: str | None
    ) -> Payment:
        return await self._follow(
            self._client.confirm_cash(payment_id, data, idempotency_key=idempotency_key)
        )

    async def _follow(self, command: Awaitable[Payment]) -> Payment:
        try:
            payment = await command
        except UpstreamProblem as exc:
            if exc.status_code == 404:
                raise NotFoundError(NO_SUCH_PAYMENT) from None
            raise
        return await follow(self._engine, payment)
