"""The caller's reservations, the admin's, and the receiver of payment events from the dispatcher."""

from __future__ import annotations

import logging
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, get, post
from litestar.params import FromQuery, JSONBody, PathParameter
from litestar.status_codes import HTTP_200_OK
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.auth.audiences import AdminController, UserController
from gateway.dependencies import CurrentUser, DbEngine, DbSession, strictly
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
from shared.operations import operation
from shared.problems import AuthenticationError
from shared.queries import Cursor, Limit
from shared.webhooks import WebhookVerificationError, derived_secret, verify

logger = logging.getLogger("gateway.reservations")

ReservationId = Annotated[UUID, PathParameter(description="Reservation id")]


def to_view(reservation: Reservation) -> ReservationView:
    """The row as the API shows it, field by field name (the database's checks keep ``status`` and
    ``capture_method`` within their Literals)."""
    return ReservationView(**{name: getattr(reservation, name) for name in ReservationView.__struct_fields__})


async def _page(
    session: AsyncSession, *, user_id: UUID | None, status: str | None, cursor: str | None, limit: int
) -> ReservationList:
    """A page of reservations as the API shows them: a user's (the caller's own) or, for an admin,
    anyone's."""
    async with session.begin():
        rows, next_cursor = await services.list_reservations(
            session, user_id=user_id, status=status, cursor=cursor, limit=limit
        )
    return ReservationList(items=[to_view(r) for r in rows], next_cursor=next_cursor)


class ReservationController(UserController):
    path = "/reservations"
    tags = ["reservations"]

    @operation(get, "/", "listMyReservations", (*INPUT, *USER))
    async def list_(
        self,
        current_user: CurrentUser,
        db_session: DbSession,
        status: FromQuery[ReservationStatus | None] = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> ReservationList:
        """The caller's reservations, newest first (cursor pagination)"""
        return await _page(db_session, user_id=current_user.id, status=status, cursor=cursor, limit=limit)

    @operation(get, "/{reservation_id:uuid}", "getMyReservation", (*INPUT, *USER, 404))
    async def get_(
        self, reservation_id: ReservationId, current_user: CurrentUser, db_session: DbSession
    ) -> ReservationView:
        """One of the caller's reservations"""
        async with db_session.begin():
            return to_view(
                await services.get_reservation(db_session, reservation_id, owner_id=current_user.id)
            )


class ReservationAdminController(AdminController):
    path = "/admin/reservations"
    tags = ["admin: reservations"]

    # 404: no such user; 422: the amount is above the maximum
    @operation(post, "/", "createReservation", (*INPUT, *ADMIN, 404, 422))
    async def create(
        self, request: Request[Any, Any, Any], data: JSONBody[ReservationCreate], db_session: DbSession
    ) -> ReservationView:
        """Create a reservation for a user"""
        data = await strictly(request, data)
        async with db_session.begin():
            max_amount = request.app.state.settings.paygate.max_amount
            reservation = await services.create_reservation(db_session, data, max_amount=max_amount)
        return to_view(reservation)

    @operation(get, "/", "listReservations", (*INPUT, *ADMIN))
    async def list_(
        self,
        db_session: DbSession,
        user_id: FromQuery[UUID | None] = None,
        status: FromQuery[ReservationStatus | None] = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> ReservationList:
        """All reservations, newest first (cursor pagination)"""
        return await _page(db_session, user_id=user_id, status=status, cursor=cursor, limit=limit)

    @operation(get, "/{reservation_id:uuid}", "getReservation", (*INPUT, *ADMIN, 404))
    async def get_(self, reservation_id: ReservationId, db_session: DbSession) -> ReservationView:
        """Any reservation"""
        async with db_session.begin():
            return to_view(await services.get_reservation(db_session, reservation_id))


class PaymentEventsController(Controller):
    """The gateway as the dispatcher's built-in subscriber: reservations follow their payments durably.

    Authenticated by the Standard Webhooks signature with the secret derived from the service token
    (what ``GET /internal/partners`` lists for the gateway), never by a user JWT.
    """

    path = "/internal/payment-events"
    tags = ["internal"]

    @operation(
        post,
        "/",
        "receivePaymentEvent",
        (*INPUT, *SERVICE),
        status_code=HTTP_200_OK,
        security=[{"WebhookSignature": []}],
    )
    async def receive(self, request: Request[Any, Any, Any], db_engine: DbEngine) -> dict[str, bool]:
        """A signed payment event

        The dispatcher's Standard Webhooks POST (a 401 when the signature does not verify).
        """
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
