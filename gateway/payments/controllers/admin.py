"""``/admin/payments``: every payment, its commands and the daily figures (admins only)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.auth.dependencies import provide_current_user
from gateway.auth.guards import requires_admin
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
from shared.problems import problem_responses
from shared.queries import PaymentFilter, StatsPeriod, query_dependency


class AdminPaymentsController(Controller):
    path = "/admin/payments"
    tags = ["admin: payments"]
    guards = [requires_admin]
    dependencies = {"current_user": Provide(provide_current_user, sync_to_thread=False)}
    security = [{"BearerToken": []}]

    @get(
        "/",
        operation_id="adminListPayments",
        summary="All payments, newest first (cursor pagination)",
        dependencies={"filters": query_dependency(PaymentFilter)},
        responses=problem_responses(*LIST_ERRORS),
    )
    async def list_(
        self, payment_ms: PaymentMsClient, filters: NamedDependency[PaymentFilter]
    ) -> PaymentList:
        return await payment_ms.list_payments(filters)

    @get(
        "/stats/daily",
        operation_id="adminDailyStats",
        summary="Count and sum per UTC day, provider, status and currency",
        dependencies={"period": query_dependency(StatsPeriod)},
        responses=problem_responses(*LIST_ERRORS),
    )
    async def daily_stats(
        self, payment_ms: PaymentMsClient, period: NamedDependency[StatsPeriod]
    ) -> DailyPaymentStats:
        return await payment_ms.daily_stats(period)

    @get(
        "/{payment_id:uuid}",
        operation_id="adminGetPayment",
        summary="Any payment",
        responses=problem_responses(*ADMIN_ERRORS),
    )
    async def get_(
        self, payment_id: PaymentId, db_engine: AsyncEngine, payment_ms: PaymentMsClient
    ) -> Payment:
        return await services.follow(db_engine, await payment_ms.get_payment(payment_id))

    @post(
        "/{payment_id:uuid}/refunds",
        operation_id="adminRefund",
        summary="Refund part (amount) or all",
        status_code=201,
        responses=problem_responses(*ADMIN_ERRORS, *COMMAND_ERRORS),
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
        body = await strictly(request, data)
        commands = services.PaymentCommands(db_engine, payment_ms, actor="operator")
        return await commands.refund(payment_id, body, idempotency_key=idempotency_key)

    @post(
        "/{payment_id:uuid}/capture",
        operation_id="adminCapture",
        summary="Capture an authorized payment: all of it, or `amount` (the rest is released)",
        description="Never more than was authorized (422). The payment becomes `succeeded` "
        "(`payment.captured` then `payment.succeeded`) and its reservation paid.",
        status_code=200,
        responses=problem_responses(*ADMIN_ERRORS, *COMMAND_ERRORS),
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
        body = await strictly(request, data) if data is not None else CaptureCreate()  # none, or null: all
        commands = services.PaymentCommands(db_engine, payment_ms, actor="operator")
        return await commands.capture(payment_id, body, idempotency_key=idempotency_key)

    @post(
        "/{payment_id:uuid}/cancel",
        operation_id="adminCancel",
        summary="Cancel an unsettled payment, or release an authorized one (escrow)",
        description="`payment.canceled`; the reservation becomes payable again.",
        status_code=200,
        responses=problem_responses(*ADMIN_ERRORS, *COMMAND_ERRORS),
    )
    async def cancel(
        self,
        request: Request[Any, Any, Any],
        payment_id: PaymentId,
        db_engine: AsyncEngine,
        payment_ms: PaymentMsClient,
        idempotency_key: OptionalKey = None,
    ) -> Payment:
        commands = services.PaymentCommands(db_engine, payment_ms, actor="operator")
        return await commands.cancel(
            payment_id, idempotency_key=idempotency_key, raw_body=await request.body()
        )

    @post(
        "/{payment_id:uuid}/confirm-cash",
        operation_id="adminConfirmCash",
        summary="Record that a cash payment was received (by the calling admin)",
        status_code=200,
        responses=problem_responses(*ADMIN_ERRORS, *COMMAND_ERRORS),
    )
    async def confirm_cash(
        self,
        payment_id: PaymentId,
        current_user: AuthUser,
        db_engine: AsyncEngine,
        payment_ms: PaymentMsClient,
        idempotency_key: OptionalKey = None,
    ) -> Payment:
        confirmation = CashConfirmation(confirmed_by=current_user.email or str(current_user.id))
        commands = services.PaymentCommands(db_engine, payment_ms, actor="operator")
        return await commands.confirm_cash(payment_id, confirmation, idempotency_key=idempotency_key)
