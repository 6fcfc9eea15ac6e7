"""``/admin/payments``: every payment, its commands and the daily figures (admins only)."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.auth.audiences import AdminController
from gateway.auth.tokens import AuthUser
from gateway.dependencies import strictly
from gateway.payments import services
from gateway.payments.client import PaymentMsClient
from gateway.payments.params import ADMIN_ERRORS, COMMAND_ERRORS, LIST_ERRORS, OptionalKey, PaymentId
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

    @operation(
        get, "/", "adminListPayments", LIST_ERRORS, dependencies={"filters": query_dependency(PaymentFilter)}
    )
    async def list_(
        self, payment_ms: PaymentMsClient, filters: NamedDependency[PaymentFilter]
    ) -> PaymentList:
        """All payments, newest first (cursor pagination)"""
        return await payment_ms.list_payments(filters)

    @operation(
        get,
        "/stats/daily",
        "adminDailyStats",
        LIST_ERRORS,
        dependencies={"period": query_dependency(StatsPeriod)},
    )
    async def daily_stats(
        self, payment_ms: PaymentMsClient, period: NamedDependency[StatsPeriod]
    ) -> DailyPaymentStats:
        """Count and sum per UTC day, provider, status and currency"""
        return await payment_ms.daily_stats(period)

    @operation(get, "/{payment_id:uuid}", "adminGetPayment", ADMIN_ERRORS)
    async def get_(
        self, payment_id: PaymentId, db_engine: AsyncEngine, payment_ms: PaymentMsClient
    ) -> Payment:
        """Any payment"""
        return await services.follow(db_engine, await payment_ms.get_payment(payment_id))

    @operation(
        post, "/{payment_id:uuid}/refunds", "adminRefund", (*ADMIN_ERRORS, *COMMAND_ERRORS), status_code=201
    )
    async def refund(
        self,
        request: Request[Any, Any, Any],
        payment_id: PaymentId,
        data: RefundCreate,
        db_engine: AsyncEngine,
        payment_ms: PaymentMsClient,
        idempotency_key: OptionalKey = None,
    ) -> Payment:
        """Refund part (amount) or all"""
        body = await strictly(request, data)
        commands = services.PaymentCommands(db_engine, payment_ms, actor="operator")
        return await commands.refund(payment_id, body, idempotency_key=idempotency_key)

    @operation(
        post, "/{payment_id:uuid}/capture", "adminCapture", (*ADMIN_ERRORS, *COMMAND_ERRORS), status_code=200
    )
    async def capture(
        self,
        request: Request[Any, Any, Any],
        payment_id: PaymentId,
        db_engine: AsyncEngine,
        payment_ms: PaymentMsClient,
        data: CaptureCreate | None = None,
        idempotency_key: OptionalKey = None,
    ) -> Payment:
        """Capture an authorized payment: all of it, or `amount` (the rest is released)

        Never more than was authorized (422). The payment becomes `succeeded` (`payment.captured` then
        `payment.succeeded`) and its reservation paid.
        """
        body = await strictly(request, data) if data is not None else CaptureCreate()  # none, or null: all
        commands = services.PaymentCommands(db_engine, payment_ms, actor="operator")
        return await commands.capture(payment_id, body, idempotency_key=idempotency_key)

    @operation(
        post, "/{payment_id:uuid}/cancel", "adminCancel", (*ADMIN_ERRORS, *COMMAND_ERRORS), status_code=200
    )
    async def cancel(
        self,
        request: Request[Any, Any, Any],
        payment_id: PaymentId,
        db_engine: AsyncEngine,
        payment_ms: PaymentMsClient,
        idempotency_key: OptionalKey = None,
    ) -> Payment:
        """Cancel an unsettled payment, or release an authorized one (escrow)

        `payment.canceled`; the reservation becomes payable again.
        """
        commands = services.PaymentCommands(db_engine, payment_ms, actor="operator")
        return await commands.cancel(
            payment_id, idempotency_key=idempotency_key, raw_body=await request.body()
        )

    @operation(
        post,
        "/{payment_id:uuid}/confirm-cash",
        "adminConfirmCash",
        (*ADMIN_ERRORS, *COMMAND_ERRORS),
        status_code=200,
    )
    async def confirm_cash(
        self,
        payment_id: PaymentId,
        current_user: AuthUser,
        db_engine: AsyncEngine,
        payment_ms: PaymentMsClient,
        idempotency_key: OptionalKey = None,
    ) -> Payment:
        """Record that a cash payment was received (by the calling admin)"""
        confirmation = CashConfirmation(confirmed_by=current_user.email or str(current_user.id))
        commands = services.PaymentCommands(db_engine, payment_ms, actor="operator")
        return await commands.confirm_cash(payment_id, confirmation, idempotency_key=idempotency_key)
