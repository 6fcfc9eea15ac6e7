"""``/admin/payments``: every payment, its commands and the daily figures (admins only)."""

from __future__ import annotations

from litestar import Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody

from gateway.auth.audiences import AdminController
from gateway.dependencies import strictly
from gateway.payments import services
from gateway.payments.dependencies import Operator, PaymentMs, provide_operator
from gateway.payments.params import ADMIN_COMMAND_ERRORS, ADMIN_ERRORS, LIST_ERRORS, OptionalKey, PaymentId
from shared.contracts import (
    CaptureCreate,
    CashConfirmation,
    DailyPaymentStats,
    Payment,
    PaymentList,
    RefundCreate,
)
from shared.operations import operation
from shared.queries import PaymentFilter, StatsPeriod, query_dependency


class AdminPaymentsController(AdminController):
    path = "/admin/payments"
    tags = ["admin: payments"]
    dependencies = {
        "operator": Provide(provide_operator, sync_to_thread=False),
        "filters": query_dependency(PaymentFilter),
        "period": query_dependency(StatsPeriod),
    }

    @operation(get, "/", "adminListPayments", LIST_ERRORS)
    async def list_(self, payment_ms: PaymentMs, filters: NamedDependency[PaymentFilter]) -> PaymentList:
        """All payments, newest first (cursor pagination)"""
        return await payment_ms.list_payments(filters)

    @operation(get, "/stats/daily", "adminDailyStats", LIST_ERRORS)
    async def daily_stats(
        self, payment_ms: PaymentMs, period: NamedDependency[StatsPeriod]
    ) -> DailyPaymentStats:
        """Count and sum per UTC day, provider, status and currency"""
        return await payment_ms.daily_stats(period)

    @operation(get, "/{payment_id:uuid}", "adminGetPayment", ADMIN_ERRORS)
    async def get_(self, payment_id: PaymentId, operator: Operator) -> Payment:
        """Any payment"""
        return await services.follow(operator.engine, await operator.payment_ms.get_payment(payment_id))

    @operation(post, "/{payment_id:uuid}/refunds", "adminRefund", ADMIN_COMMAND_ERRORS, status_code=201)
    async def refund(
        self,
        request: Request,
        payment_id: PaymentId,
        data: JSONBody[RefundCreate],
        operator: Operator,
        idempotency_key: OptionalKey = None,
    ) -> Payment:
        """Refund part (amount) or all"""
        body = await strictly(request, data)
        return await operator.commands.refund(payment_id, body, idempotency_key=idempotency_key)

    @operation(post, "/{payment_id:uuid}/capture", "adminCapture", ADMIN_COMMAND_ERRORS, status_code=200)
    async def capture(
        self,
        request: Request,
        payment_id: PaymentId,
        operator: Operator,
        data: JSONBody[CaptureCreate | None] = None,
        idempotency_key: OptionalKey = None,
    ) -> Payment:
        """Capture an authorized payment: all of it, or `amount` (the rest is released)

        Never more than was authorized (422). The payment becomes `succeeded` (`payment.captured` then
        `payment.succeeded`) and its reservation paid.
        """
        body = await strictly(request, data) if data is not None else CaptureCreate()  # none, or null: all
        return await operator.commands.capture(payment_id, body, idempotency_key=idempotency_key)

    @operation(post, "/{payment_id:uuid}/cancel", "adminCancel", ADMIN_COMMAND_ERRORS, status_code=200)
    async def cancel(
        self, request: Request, payment_id: PaymentId, operator: Operator, idempotency_key: OptionalKey = None
    ) -> Payment:
        """Cancel an unsettled payment, or release an authorized one (escrow)

        `payment.canceled`; the reservation becomes payable again.
        """
        raw_body = await request.body()
        return await operator.commands.cancel(payment_id, idempotency_key=idempotency_key, raw_body=raw_body)

    @operation(
        post, "/{payment_id:uuid}/confirm-cash", "adminConfirmCash", ADMIN_COMMAND_ERRORS, status_code=200
    )
    async def confirm_cash(
        self, payment_id: PaymentId, operator: Operator, idempotency_key: OptionalKey = None
    ) -> Payment:
        """Record that a cash payment was received (by the calling admin)"""
        confirmation = CashConfirmation(confirmed_by=operator.user.email or str(operator.user.id))
        return await operator.commands.confirm_cash(payment_id, confirmation, idempotency_key=idempotency_key)
