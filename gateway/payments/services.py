"""Forwarding payment calls to payment_ms with the gateway's checks around them.

- Checkout reads the reservation (amount, ownership, payability), asks payment_ms to create the
  payment and points the reservation at it: ONE durable commit, payment_ms's. payment_ms keeps a
  reservation to one live payment in its create statement (409 ``reservation-has-live-payment``,
  relayed), so two concurrent checkouts cannot both pay and the gateway needs no claim of its own;
  the reservation's fields are derived state, written with asynchronous commit and rebuilt from the
  next event or read if a crash loses them. A claim left by an older gateway (pending without a live
  payment) is still honoured until it expires after twice ``GATEWAY_PAYMENT_MS_TIMEOUT``.
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
from collections.abc import Awaitable, Callable

import msgspec
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.auth.tokens import AuthUser
from gateway.payments.client import PaymentMsClient, UpstreamProblem
from gateway.payments.redirects import check_redirect_url
from gateway.payments.schemas import CheckoutRequest, CheckoutResponse
from gateway.reservations import repositories as reservations
from gateway.reservations.services import RESERVATION_STATUS_FOR_PAYMENT, apply_payment
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
# A reservation whose payment ended this way may be paid again (by a new payment).
DEAD_PAYMENT_STATUSES = frozenset({"failed", "canceled"})
# payment_ms's 409 when the reservation has a live payment already (its id in ``payment_id``).
LIVE_PAYMENT_CONFLICT = "reservation-has-live-payment"


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
    async with raw_connection(engine) as conn:
        state = await reservations.checkout_state(
            conn, data.reservation_id, user.id, stale_after_seconds=2 * settings.payment_ms_timeout
        )
    if state is None:
        raise NotFoundError("No such reservation.")
    if reservations.is_checkout_claim(state["status"], state["payment_status"]) and not state["stale"]:
        raise ConflictError(
            "A checkout of this reservation is in progress; retry shortly.", headers={"Retry-After": "1"}
        )
    previous = state["payment_id"]
    if previous is not None:
        payment = await _current_payment(engine, client, previous)
        if _same_checkout(payment, fingerprint, request_hash):
            return _response(payment)  # the same checkout retried: its payment, as it is now
        if payment.status not in DEAD_PAYMENT_STATUSES:
            raise _not_payable(payment)
    elif state["status"] not in ("payable", "pending"):
        raise ConflictError(
            "This reservation is not payable.",
            extra={"reservation_status": state["status"], "payment_id": str(previous)},
        )
    create = PaymentCreate(
        reservation_id=data.reservation_id,
        user_id=user.id,
        amount=state["amount"],
        currency=state["currency"],
        description=state["description"],
        payer_email=user.email,
        return_url=data.return_url,
        cancel_url=data.cancel_url,
        metadata={CHECKOUT_KEY_METADATA: fingerprint, CHECKOUT_REQUEST_METADATA: request_hash},
        capture_method=_capture_method(state["capture_method"], data.capture_method),
    )
    # payment_ms refuses a second live payment of the reservation (409): concurrent checkouts with other
    # keys cannot both pay, and the same key replays the payment it made.
    try:
        payment = await client.create_payment(create, idempotency_key=upstream_key(idempotency_key, previous))
    except UpstreamProblem as exc:
        live = exc.extra.get("payment_id") if exc.code == LIVE_PAYMENT_CONFLICT else None
        if not isinstance(live, str):
            raise
        # Another checkout's payment (or one whose record a crash lost): the reservation learns it.
        payment = await _current_payment(engine, client, uuid.UUID(live))
        raise _not_payable(payment) from None
    await apply_payment(engine, payment)
    return _response(payment)


def _not_payable(payment: Payment) -> ConflictError:
    return ConflictError(
        "This reservation is not payable.",
        extra={
            "reservation_status": RESERVATION_STATUS_FOR_PAYMENT[payment.status],
            "payment_id": str(payment.id),
        },
    )


async def _current_payment(engine: AsyncEngine, client: PaymentMsClient, payment_id: uuid.UUID) -> Payment:
    payment = await client.get_payment(payment_id)
    await apply_payment(engine, payment)
    return payment


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
        """Asks the provider now (the payer back from checkout, an operator's refresh)."""
        return await self._bodiless(self._client.verify, payment_id, idempotency_key, raw_body)

    async def cancel(
        self, payment_id: uuid.UUID, *, idempotency_key: str | None, raw_body: bytes | None = None
    ) -> Payment:
        return await self._bodiless(self._client.cancel, payment_id, idempotency_key, raw_body)

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

    async def _bodiless(
        self,
        send: Callable[..., Awaitable[Payment]],
        payment_id: uuid.UUID,
        idempotency_key: str | None,
        raw_body: bytes | None,
    ) -> Payment:
        """Verify and cancel: on behalf of this actor, the caller's body passed on as it came."""
        command = send(payment_id, actor=self._actor, idempotency_key=idempotency_key, raw_body=raw_body)
        return await self._follow(command)

    async def _follow(self, command: Awaitable[Payment]) -> Payment:
        try:
            payment = await command
        except UpstreamProblem as exc:
            if exc.status_code == 404:
                raise NotFoundError(NO_SUCH_PAYMENT) from None
            raise
        return await follow(self._engine, payment)
