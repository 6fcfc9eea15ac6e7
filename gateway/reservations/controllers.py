"""The caller's reservations, the admin's, and the receiver of payment events from the dispatcher."""

from __future__ import annotations

import logging
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, get, post
from litestar.di import Provide
from litestar.params import Parameter
from litestar.status_codes import HTTP_200_OK
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from gateway.auth.dependencies import provide_current_user
from gateway.auth.guards import requires_admin, requires_user
from gateway.auth.tokens import AuthUser
from gateway.dependencies import strictly
from gateway.openapi import ADMIN, INPUT, SERVICE, USER
from gateway.partners.services import GATEWAY_SUBSCRIBER_PURPOSE
from gateway.reservations import services
from gateway.reservations.schemas import (
    ReservationCreate,
    ReservationList,
    ReservationStatus,
    ReservationView,
)
from shared.events import WebhookEnvelope
from shared.jsonbody import decode_json_body
from shared.models import Reservation
from shared.problems import AuthenticationError, problem_responses
from shared.queries import Cursor, Limit
from shared.webhooks import WebhookVerificationError, derived_secret, verify

logger = logging.getLogger("gateway.reservations")

ReservationId = Annotated[UUID, Parameter(description="Reservation id")]


def to_view(reservation: Reservation) -> ReservationView:
    """The row as the API shows it, field by field name (the database's checks keep ``status`` and
    ``capture_method`` within their Literals)."""
    return ReservationView(**{name: getattr(reservation, name) for name in ReservationView.__struct_fields__})


class ReservationController(Controller):
    path = "/reservations"
    tags = ["reservations"]
    guards = [requires_user]
    dependencies = {"current_user": Provide(provide_current_user, sync_to_thread=False)}
    security = [{"BearerToken": []}]

    @get(
        "/",
        operation_id="listMyReservations",
        summary="The caller's reservations, newest first (cursor pagination)",
        responses=problem_responses(*INPUT, *USER),
    )
    async def list_(
        self,
        current_user: AuthUser,
        db_session: AsyncSession,
        status: ReservationStatus | None = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> ReservationList:
        async with db_session.begin():
            rows, next_cursor = await services.list_reservations(
                db_session, user_id=current_user.id, status=status, cursor=cursor, limit=limit
            )
        return ReservationList(items=[to_view(r) for r in rows], next_cursor=next_cursor)

    @get(
        "/{reservation_id:uuid}",
        operation_id="getMyReservation",
        summary="One of the caller's reservations",
        responses=problem_responses(*INPUT, *USER, 404),
    )
    async def get_(
        self, reservation_id: ReservationId, current_user: AuthUser, db_session: AsyncSession
    ) -> ReservationView:
        async with db_session.begin():
            return to_view(
                await services.get_reservation(db_session, reservation_id, owner_id=current_user.id)
            )


class ReservationAdminController(Controller):
    path = "/admin/reservations"
    tags = ["admin: reservations"]
    guards = [requires_admin]
    security = [{"BearerToken": []}]

    @post(
        "/",
        operation_id="createReservation",
        summary="Create a reservation for a user",
        # 404: no such user; 422: the amount is above the maximum
        responses=problem_responses(*INPUT, *ADMIN, 404, 422),
    )
    async def create(
        self, request: Request[Any, Any, Any], data: ReservationCreate, db_session: AsyncSession
    ) -> ReservationView:
        data = await strictly(request, data)
        async with db_session.begin():
            max_amount = request.app.state.settings.paygate.max_amount
            reservation = await services.create_reservation(db_session, data, max_amount=max_amount)
        return to_view(reservation)

    @get(
        "/",
        operation_id="listReservations",
        summary="All reservations, newest first (cursor pagination)",
        responses=problem_responses(*INPUT, *ADMIN),
    )
    async def list_(
        self,
        db_session: AsyncSession,
        user_id: UUID | None = None,
        status: ReservationStatus | None = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> ReservationList:
        async with db_session.begin():
            rows, next_cursor = await services.list_reservations(
                db_session, user_id=user_id, status=status, cursor=cursor, limit=limit
            )
        return ReservationList(items=[to_view(r) for r in rows], next_cursor=next_cursor)

    @get(
        "/{reservation_id:uuid}",
        operation_id="getReservation",
        summary="Any reservation",
        responses=problem_responses(*INPUT, *ADMIN, 404),
    )
    async def get_(self, reservation_id: ReservationId, db_session: AsyncSession) -> ReservationView:
        async with db_session.begin():
            return to_view(await services.get_reservation(db_session, reservation_id))


class PaymentEventsController(Controller):
    """The gateway as the dispatcher's built-in subscriber: reservations follow their payments durably.

    Authenticated by the Standard Webhooks signature with the secret derived from the service token
    (what ``GET /internal/partners`` lists for the gateway), never by a user JWT.
    """

    path = "/internal/payment-events"
    tags = ["internal"]

    @post(
        "/",
        operation_id="receivePaymentEvent",
        summary="A signed payment event",
        description="The dispatcher's Standard Webhooks POST (a 401 when the signature does not verify).",
        status_code=HTTP_200_OK,
        security=[{"WebhookSignature": []}],
        responses=problem_responses(*INPUT, *SERVICE),
    )
    async def receive(self, request: Request[Any, Any, Any], db_engine: AsyncEngine) -> dict[str, bool]:
        body = await request.body()
        secret = derived_secret(
            request.app.state.settings.paygate.service_token.get_secret_value(), GATEWAY_SUBSCRIBER_PURPOSE
        )
        try:
            verify(secret, dict(request.headers), body)
        except WebhookVerificationError as exc:
            logger.warning("payment event refused: %s", exc)
            raise AuthenticationError("Invalid webhook signature.") from None
        envelope = decode_json_body(body, WebhookEnvelope, what="payment event")
        return {"applied": await services.apply_payment(db_engine, envelope.data)}
