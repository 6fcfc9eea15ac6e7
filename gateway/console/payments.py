"""Console pages of payments: search and filters, a payment's page (timeline, deliveries, attempts) and
its actions, each behind a confirmation step and sent with an ``Idempotency-Key`` like the admin API."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any, Literal

from litestar import Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.console.access import ConsolePages
from gateway.payments import services
from gateway.payments.client import UpstreamProblem
from gateway.reservations.services import apply_payment
from gateway.web import repositories
from gateway.web.forms import one_of, parse_amount, parse_time, parse_uuid
from gateway.web.pages import PAGE_HEADERS
from gateway.web.visits import ConsoleVisit, Cursor, Done
from shared.contracts import CashConfirmation, RefundCreate
from shared.models import PAYMENT_PROVIDERS, PAYMENT_STATUSES
from shared.problems import InvalidInputError
from shared.queries import DeliveryFilter, EventFilter, PaymentFilter, Query, query_dependency

Action = Literal["refund", "capture", "cancel", "confirm-cash"]
ACTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    # action: (label, the statuses it applies to)
    "refund": ("Refund", ("succeeded", "partially_refunded")),
    "capture": ("Capture", ("authorized",)),
    "cancel": ("Cancel", ("pending", "processing", "authorized")),
    "confirm-cash": ("Confirm cash received", ("pending",)),
}
DONE = {
    "refund": "Refunded.",
    "capture": "Captured.",
    "cancel": "Canceled.",
    "confirm-cash": "Cash confirmed.",
}
Text = Annotated[str | None, QueryParameter(max_length=200)]


class PaymentSearch(Query, frozen=True):
    """The search form of the payments page, as typed: the search reads each field (a bad one is a
    page that says which) and the form shows them again."""

    q: Text = None
    status: Text = None
    provider: Text = None
    user_id: Text = None
    reservation_id: Text = None
    created_from: Text = None
    created_to: Text = None
    currency: Annotated[str | None, QueryParameter(max_length=3)] = None
    amount_min: Text = None
    amount_max: Text = None
    cursor: Cursor = None


def available_actions(status: str, provider: str) -> list[tuple[str, str]]:
    return [
        (name, label)
        for name, (label, statuses) in ACTIONS.items()
        if status in statuses and (name != "confirm-cash" or provider == "cash")
    ]


# The timeline's "from what" (``Event.source``).
SOURCES = {
    "payer": "the payer",
    "provider": "a provider event",
    "operator": "an operator",
    "reconciliation": "reconciliation",
    "cash_confirmation": "a cash confirmation",
    "expiry": "expiry (the authorization window passed)",
}


class ConsolePaymentsController(ConsolePages):
    path = "/payments"

    @get("/", operation_id="consolePayments", dependencies={"form": query_dependency(PaymentSearch)})
    async def search(
        self, visit: NamedDependency[ConsoleVisit], form: NamedDependency[PaymentSearch]
    ) -> Response[Any]:
        """``q`` is any id: a payment opens it, otherwise it is searched as a reservation or a user."""
        payment_ms = visit.payment_ms
        wanted_status = one_of(form.status, PAYMENT_STATUSES, "status")
        wanted_provider = one_of(form.provider, PAYMENT_PROVIDERS, "provider")
        reservation = parse_uuid(form.reservation_id, "reservation")
        user = parse_uuid(form.user_id, "user")
        if form.q and form.q.strip():
            wanted = parse_uuid(form.q, "the search")
            assert wanted is not None
            try:
                payment = await payment_ms.get_payment(wanted)
                return Redirect(f"/console/payments/{payment.id}", status_code=303, headers=PAGE_HEADERS)
            except UpstreamProblem as exc:
                if exc.status_code != 404:
                    raise
                reservation = wanted
        unit = (form.currency or "EUR").upper()
        listing = await payment_ms.list_payments(
            PaymentFilter(
                status=wanted_status,
                provider=wanted_provider,
                user_id=user,
                reservation_id=reservation,
                created_from=parse_time(form.created_from),
                created_to=parse_time(form.created_to),
                amount_min=parse_amount(form.amount_min, unit) if form.amount_min else None,
                amount_max=parse_amount(form.amount_max, unit) if form.amount_max else None,
                cursor=form.cursor,
                limit=50,
            )
        )
        if form.q and form.q.strip() and not listing.items and reservation is not None:
            # the id is no payment's and no reservation's: a user's?
            listing = await payment_ms.list_payments(
                PaymentFilter(user_id=reservation, cursor=form.cursor, limit=50)
            )
        return visit.page(
            "console/payments.html",
            title="Payments",
            section="Payments",
            listing=listing,
            filters={name: value or "" for name, value in form.as_kwargs().items() if name != "cursor"},
            statuses=PAYMENT_STATUSES,
            providers=PAYMENT_PROVIDERS,
        )

    @get("/{payment_id:uuid}", operation_id="consolePayment")
    async def detail(
        self, visit: NamedDependency[ConsoleVisit], payment_id: FromPath[uuid.UUID], done: Done = None
    ) -> Template:
        payment_ms = visit.payment_ms
        payment, events, deliveries = await asyncio.gather(
            payment_ms.get_payment(payment_id),
            payment_ms.list_events(EventFilter(payment_id=payment_id, limit=200)),
            payment_ms.list_deliveries(DeliveryFilter(payment_id=payment_id, limit=100)),
        )
        await apply_payment(visit.engine, payment)  # the reservation hears what the console saw
        details = await asyncio.gather(*(payment_ms.get_delivery(d.id) for d in deliveries.items[:20]))
        event_types = {e.id: e.type for e in events.items}
        names = await partner_names(visit.engine)
        return visit.page(
            "console/payment.html",
            title=f"Payment {payment.id}",
            section="Payments",
            payment=payment,
            timeline=list(reversed(events.items)),
            sources=SOURCES,
            deliveries=details,
            event_types=event_types,
            partner_names=names,
            actions=available_actions(payment.status, payment.provider),
            notice=DONE.get(done or ""),
        )

    @get("/{payment_id:uuid}/{action:str}", operation_id="consoleConfirmAction")
    async def confirm(
        self, visit: NamedDependency[ConsoleVisit], payment_id: FromPath[uuid.UUID], action: FromPath[str]
    ) -> Template:
        label = _action(action)[0]
        payment = await visit.payment_ms.get_payment(payment_id)
        return visit.page(
            "console/confirm.html",
            title=f"{label}?",
            section="Payments",
            payment=payment,
            action=action,
            label=label,
            idempotency_key=str(uuid.uuid4()),
            refundable=payment.captured_amount - payment.refunded_amount,
        )

    @post("/{payment_id:uuid}/{action:str}", operation_id="consoleRunAction", status_code=303)
    async def run(
        self, visit: NamedDependency[ConsoleVisit], payment_id: FromPath[uuid.UUID], action: FromPath[str]
    ) -> Response[Any]:
        _action(action)
        form = await visit.form()
        key = form.get("idempotency_key", "")
        if not 1 <= len(key) <= 255:
            raise InvalidInputError("The form has no idempotency key; open the confirmation again.")
        commands = services.PaymentCommands(visit.engine, visit.payment_ms, actor="operator")
        if action == "refund":
            payment = await visit.payment_ms.get_payment(payment_id)
            amount = (
                parse_amount(form["amount"], payment.currency) if form.get("amount", "").strip() else None
            )
            reason = form.get("reason", "").strip()[:500] or None
            await commands.refund(payment_id, RefundCreate(amount=amount, reason=reason), idempotency_key=key)
        elif action == "confirm-cash":
            confirmation = CashConfirmation(confirmed_by=visit.session.email)
            await commands.confirm_cash(payment_id, confirmation, idempotency_key=key)
        elif action == "capture":
            await commands.capture(payment_id, idempotency_key=key)
        else:
            await commands.cancel(payment_id, idempotency_key=key)
        return visit.back(f"/console/payments/{payment_id}", action)


def _action(action: str) -> tuple[str, tuple[str, ...]]:
    if action not in ACTIONS:
        raise InvalidInputError(f"No such action: {action}.")
    return ACTIONS[action]


async def partner_names(engine: AsyncEngine) -> dict[uuid.UUID, str]:
    """Partner names for labels (the gateway's own registry)."""
    async with engine.connect() as conn:
        return await repositories.partner_names(conn)
