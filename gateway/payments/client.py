"""The gateway's typed client of payment_ms: one method per payment_ms operation, over the routes
(``shared.routes``) and query contracts (``shared.queries``) that payment_ms's controllers mount.

Every method answers the decoded contract or raises: ``UpstreamProblem`` for payment_ms's own 4xx
problem (and its 502/503/504), relayed to the gateway's caller under the gateway's route;
``BadGatewayError`` when payment_ms refuses the service token or answers something else.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, TypeVar
from uuid import UUID

import msgspec
from litestar import Litestar

from gateway.metrics.definitions import UPSTREAM_CALLS, UPSTREAM_LATENCY
from gateway.payments.transport import BadGatewayError, PaymentMsTransport, UpstreamResponse, logger
from gateway.settings import GatewaySettings
from shared import routes
from shared.contracts import (
    ACTOR_HEADER,
    Actor,
    CaptureCreate,
    CashConfirmation,
    DailyPaymentStats,
    Delivery,
    DeliveryDetail,
    DeliveryList,
    DeliveryStats,
    Event,
    EventFeed,
    EventList,
    PartnerHealthList,
    PartnerReplay,
    Payment,
    PaymentCreate,
    PaymentList,
    RefundCreate,
    ReplayCount,
    SendTestEventRequest,
    SendTestEventResult,
    StripeWebhookReceipt,
)
from shared.problems import PROBLEM_JSON, PROBLEM_TYPE_BASE, ApplicationError, UpstreamTimeoutError
from shared.queries import DeliveryFilter, EventFilter, FeedQuery, HealthQuery, PaymentFilter, StatsPeriod

T = TypeVar("T")

_PROBLEM_MEMBERS = frozenset({"type", "title", "status", "detail", "instance"})


class UpstreamProblem(ApplicationError):
    """payment_ms's problem, answered by the gateway as its own: same status, type, title, detail and
    extra members, with the gateway's route as ``instance`` (and in the detail, where payment_ms named
    its own route)."""

    def __init__(self, response: UpstreamResponse) -> None:
        problem = _problem_members(response)
        title = str(problem.get("title") or "The payment service refused the request")
        super().__init__(
            str(problem.get("detail") or title),
            extra={k: v for k, v in problem.items() if k not in _PROBLEM_MEMBERS},
            headers={"Retry-After": response.retry_after} if response.retry_after else None,
        )
        self.status_code = response.status
        self.title = title
        self.code = str(problem.get("type") or response.status).removeprefix(PROBLEM_TYPE_BASE)
        self.upstream_instance = problem.get("instance") if isinstance(problem.get("instance"), str) else None

    def detail_at(self, path: str) -> str:
        if self.upstream_instance:
            return self.detail.replace(self.upstream_instance, path)
        return self.detail


def _problem_members(response: UpstreamResponse) -> dict[str, Any]:
    if not response.content_type.startswith(PROBLEM_JSON):
        return {}
    try:
        problem = msgspec.json.decode(response.body)
    except msgspec.DecodeError:
        return {}
    return problem if isinstance(problem, dict) else {}


def ensure_ok(response: UpstreamResponse) -> UpstreamResponse:
    if response.ok:
        return response
    if response.status in (401, 403):  # our service token is wrong: the caller can do nothing about it
        logger.error("payment_ms refused the gateway's service token (status %s)", response.status)
        raise BadGatewayError("The payment service refused the gateway.")
    if 400 <= response.status < 500 or response.status in (502, 503, 504):
        raise UpstreamProblem(response)
    raise BadGatewayError(f"The payment service failed (status {response.status}).")


def _decode(response: UpstreamResponse, type_: type[T]) -> T:
    try:
        return msgspec.json.decode(ensure_ok(response).body, type=type_)
    except msgspec.DecodeError:
        raise BadGatewayError(
            f"The payment service answered something that is not a {type_.__name__}."
        ) from None


class PaymentMsClient:
    """payment_ms's API as typed calls. Retries follow the transport's rule (GETs, and POSTs with an
    Idempotency-Key) unless a method says otherwise."""

    def __init__(self, transport: PaymentMsTransport) -> None:
        self.transport = transport

    async def _call(self, method: str, route: str, *, json: Any = None, **options: Any) -> UpstreamResponse:
        """One call to ``route`` (its template filled from ``options``), counted and timed by template."""
        values = {name: options.pop(name) for name in ("payment_id", "delivery_id") if name in options}
        started = time.perf_counter()
        outcome = "unavailable"
        try:
            answer = await self.transport.request(method, routes.path(route, **values), json=json, **options)
            outcome = str(answer.status)
            return answer
        except UpstreamTimeoutError:
            outcome = "timeout"
            raise
        finally:
            UPSTREAM_CALLS.labels(method, route, outcome).inc()
            UPSTREAM_LATENCY.labels(method, route).observe(time.perf_counter() - started)

    # --- payments
    async def create_payment(self, data: PaymentCreate, *, idempotency_key: str) -> Payment:
        answer = await self._call("POST", routes.PAYMENTS, json=data, idempotency_key=idempotency_key)
        return _decode(answer, Payment)

    async def get_payment(self, payment_id: UUID) -> Payment:
        return _decode(await self._call("GET", routes.PAYMENT, payment_id=payment_id), Payment)

    async def list_payments(self, filters: PaymentFilter) -> PaymentList:
        answer = await self._call("GET", routes.PAYMENTS, params=filters.to_params())
        return _decode(answer, PaymentList)

    async def daily_stats(self, period: StatsPeriod) -> DailyPaymentStats:
        answer = await self._call("GET", routes.PAYMENT_STATS_DAILY, params=period.to_params())
        return _decode(answer, DailyPaymentStats)

    # Verify and cancel read no body; the caller's (``raw_body``) is passed on as it came, because
    # payment_ms's idempotency fingerprint covers it (the same key with another body is 422).

    async def verify(
        self, payment_id: UUID, *, actor: Actor, idempotency_key: str | None, raw_body: bytes | None = None
    ) -> Payment:
        """Verify is safe to repeat with or without a key: it asks the provider and applies the outcome.
        ``actor``: who asks (the source of the events it writes)."""
        return await self._bodiless(
            routes.PAYMENT_VERIFY, payment_id, actor, idempotency_key, raw_body, retry=True
        )

    async def cancel(
        self, payment_id: UUID, *, actor: Actor, idempotency_key: str | None, raw_body: bytes | None = None
    ) -> Payment:
        return await self._bodiless(routes.PAYMENT_CANCEL, payment_id, actor, idempotency_key, raw_body)

    async def _bodiless(
        self,
        route: str,
        payment_id: UUID,
        actor: Actor,
        idempotency_key: str | None,
        raw_body: bytes | None,
        *,
        retry: bool | None = None,
    ) -> Payment:
        headers: dict[str, str] = {ACTOR_HEADER: actor}
        return await self._command(
            route,
            payment_id,
            idempotency_key=idempotency_key,
            retry=retry,
            raw_body=raw_body,
            headers=headers,
        )

    async def capture(
        self, payment_id: UUID, data: CaptureCreate | None = None, *, idempotency_key: str | None = None
    ) -> Payment:
        return await self._command(routes.PAYMENT_CAPTURE, payment_id, data, idempotency_key=idempotency_key)

    async def refund(
        self, payment_id: UUID, data: RefundCreate, *, idempotency_key: str | None = None
    ) -> Payment:
        return await self._command(routes.PAYMENT_REFUNDS, payment_id, data, idempotency_key=idempotency_key)

    async def confirm_cash(
        self, payment_id: UUID, data: CashConfirmation, *, idempotency_key: str | None = None
    ) -> Payment:
        return await self._command(
            routes.PAYMENT_CONFIRM_CASH, payment_id, data, idempotency_key=idempotency_key
        )

    async def _command(
        self,
        route: str,
        payment_id: UUID,
        body: msgspec.Struct | None = None,
        *,
        idempotency_key: str | None,
        retry: bool | None = None,
        raw_body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Payment:
        answer = await self._call(
            "POST",
            route,
            payment_id=payment_id,
            json=body,
            content=raw_body if body is None and raw_body else None,
            idempotency_key=idempotency_key,
            retry=retry,
            headers=headers,
        )
        return _decode(answer, Payment)

    # --- the outbox and the dispatcher's records
    async def list_events(self, filters: EventFilter) -> EventList:
        return _decode(await self._call("GET", routes.EVENTS, params=filters.to_params()), EventList)

    async def get_event(self, event_id: UUID) -> Event:
        return _decode(
            await self.transport.request("GET", routes.path(routes.EVENT, event_id=event_id)), Event
        )

    async def event_feed(self, query: FeedQuery) -> EventFeed:
        answer = await self.transport.request("GET", routes.EVENT_FEED, params=query.to_params())
        return _decode(answer, EventFeed)

    async def delivery_stats(self, minutes: int = 60) -> DeliveryStats:
        answer = await self.transport.request(
            "GET", routes.DELIVERY_STATS, params=[("minutes", str(minutes))]
        )
        return _decode(answer, DeliveryStats)

    async def partner_health(self, query: HealthQuery) -> PartnerHealthList:
        answer = await self.transport.request("GET", routes.PARTNER_HEALTH, params=query.to_params())
        return _decode(answer, PartnerHealthList)

    async def list_deliveries(self, filters: DeliveryFilter) -> DeliveryList:
        answer = await self._call("GET", routes.DELIVERIES, params=filters.to_params())
        return _decode(answer, DeliveryList)

    async def get_delivery(self, delivery_id: UUID) -> DeliveryDetail:
        answer = await self._call("GET", routes.DELIVERY, delivery_id=delivery_id)
        return _decode(answer, DeliveryDetail)

    async def replay_delivery(self, delivery_id: UUID) -> Delivery:
        answer = await self._call("POST", routes.DELIVERY_REPLAY, delivery_id=delivery_id, retry=False)
        return _decode(answer, Delivery)

    async def replay_partner_deliveries(self, replay: PartnerReplay) -> ReplayCount:
        answer = await self._call("POST", routes.DELIVERIES_REPLAY, json=replay, retry=False)
        return _decode(answer, ReplayCount)

    async def send_test_event(self, test: SendTestEventRequest) -> SendTestEventResult:
        answer = await self.transport.request("POST", routes.TEST_SENDS, json=test, retry=False)
        return _decode(answer, SendTestEventResult)

    # --- providers and health
    async def stripe_webhook(
        self, payload: bytes, *, content_type: str, signature: str
    ) -> StripeWebhookReceipt:
        """Stripe's bytes as they came: payment_ms checks their signature (this route takes no service
        token, so its 401 is the signature's refusal: relayed, not a 502)."""
        headers = {"Content-Type": content_type, "Stripe-Signature": signature}
        answer = await self._call(
            "POST", routes.STRIPE_WEBHOOK, content=payload, headers=headers, retry=False
        )
        if answer.status == 401:
            raise UpstreamProblem(answer)
        return _decode(answer, StripeWebhookReceipt)

    async def ready(self) -> bool:
        return (await self._call("GET", routes.READY, retry=False)).ok


def payment_ms_lifespan(
    settings: GatewaySettings, service_token: str
) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        transport = PaymentMsTransport(settings, service_token)
        await transport.start()
        app.state.payment_ms = PaymentMsClient(transport)
        try:
            yield
        finally:
            await transport.close()

    return lifespan
