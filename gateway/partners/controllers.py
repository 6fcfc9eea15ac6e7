"""Admin CRUD of the partner registry, and the dispatcher's internal view of it."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, delete, get, patch, post
from litestar.params import Parameter, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.auth.guards import requires_admin
from gateway.dependencies import strictly
from gateway.openapi import ADMIN, INPUT, SERVICE
from gateway.partners import services
from gateway.partners.schemas import (
    PartnerCreate,
    PartnerDisable,
    PartnerList,
    PartnerUpdate,
    PartnerView,
    PartnerWithSecret,
)
from gateway.settings import GatewaySettings
from shared.contracts import (
    EventType,
    OperationalEvent,
    OperationalEventList,
    OperationalEventsProcessed,
    PartnerTargetList,
)
from shared.models import Partner
from shared.problems import problem_responses
from shared.queries import Cursor, Limit
from shared.security import requires_service_token

PartnerId = Annotated[UUID, Parameter(description="Partner id")]
# 409: a partner with this name exists; 422: the url or the event types are refused
WRITE_ERRORS = (409, 422)


def _view(partner: Partner) -> PartnerView:
    return services.partner_view(partner)


def _with_secret(partner: Partner) -> PartnerWithSecret:
    return PartnerWithSecret(
        **{f: getattr(_view(partner), f) for f in PartnerView.__struct_fields__}, secret=partner.secret
    )


class PartnerAdminController(Controller):
    path = "/admin/partners"
    tags = ["admin: partners"]
    guards = [requires_admin]
    security = [{"BearerToken": []}]

    @post(
        "/",
        operation_id="createPartner",
        summary="Register a partner (its secret is shown once)",
        responses=problem_responses(*INPUT, *ADMIN, *WRITE_ERRORS),
    )
    async def create(
        self,
        request: Request[Any, Any, Any],
        data: PartnerCreate,
        db_session: AsyncSession,
        gateway_settings: GatewaySettings,
    ) -> PartnerWithSecret:
        data = await strictly(request, data)
        async with db_session.begin():
            partner = await services.create_partner(
                db_session,
                name=data.name,
                url=data.url,
                event_types=data.event_types,
                enabled=data.enabled,
                payer_details=data.payer_details,
                ordered=data.ordered,
                max_requests_per_second=data.max_requests_per_second,
                settings=gateway_settings,
            )
        return _with_secret(partner)

    @get(
        "/",
        operation_id="listPartners",
        summary="Partners, oldest first (cursor pagination)",
        responses=problem_responses(*INPUT, *ADMIN),
    )
    async def list_(
        self,
        db_session: AsyncSession,
        event_type: Annotated[EventType | None, QueryParameter(name="event_type")] = None,
        enabled: bool | None = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> PartnerList:
        async with db_session.begin():
            partners, next_cursor = await services.list_partners(
                db_session, event_type=event_type, enabled=enabled, cursor=cursor, limit=limit
            )
        return PartnerList(items=[_view(p) for p in partners], next_cursor=next_cursor)

    @get(
        "/{partner_id:uuid}",
        operation_id="getPartner",
        summary="One partner (without its secret)",
        responses=problem_responses(*INPUT, *ADMIN, 404),
    )
    async def get_(self, partner_id: PartnerId, db_session: AsyncSession) -> PartnerView:
        async with db_session.begin():
            return _view(await services.get_partner(db_session, partner_id))

    @patch(
        "/{partner_id:uuid}",
        operation_id="updatePartner",
        summary="Change name, url, events, enabled (with a reason), payer details, ordering, rate limit",
        responses=problem_responses(*INPUT, *ADMIN, 404, *WRITE_ERRORS),
    )
    async def update(
        self,
        partner_id: PartnerId,
        request: Request[Any, Any, Any],
        data: PartnerUpdate,
        db_session: AsyncSession,
        gateway_settings: GatewaySettings,
    ) -> PartnerView:
        data = await strictly(request, data)
        async with db_session.begin():
            partner = await services.update_partner(
                db_session,
                partner_id,
                name=data.name,
                url=data.url,
                event_types=data.event_types,
                enabled=data.enabled,
                payer_details=data.payer_details,
                reason=data.disabled_reason,
                ordered=data.ordered,
                max_requests_per_second=services.UNSET
                if isinstance(data.max_requests_per_second, msgspec.UnsetType)
                else data.max_requests_per_second,
                settings=gateway_settings,
            )
        return _view(partner)

    @delete(
        "/{partner_id:uuid}",
        operation_id="deletePartner",
        summary="Remove a partner",
        status_code=HTTP_204_NO_CONTENT,
        responses=problem_responses(*INPUT, *ADMIN, 404),
    )
    async def delete_(self, partner_id: PartnerId, db_session: AsyncSession) -> None:
        async with db_session.begin():
            await services.delete_partner(db_session, partner_id)

    @post(
        "/{partner_id:uuid}/rotate-secret",
        operation_id="rotatePartnerSecret",
        summary="New signing secret; every replaced one keeps signing for 24 h after its rotation",
        description="The answer's signing_secrets says which secrets sign and until when.",
        status_code=HTTP_200_OK,
        responses=problem_responses(*INPUT, *ADMIN, 404),
    )
    async def rotate_secret(
        self, partner_id: PartnerId, db_session: AsyncSession, gateway_settings: GatewaySettings
    ) -> PartnerWithSecret:
        async with db_session.begin():
            partner = await services.rotate_secret(db_session, partner_id, settings=gateway_settings)
        return _with_secret(partner)

    @post(
        "/{partner_id:uuid}/finish-rotation",
        operation_id="finishPartnerRotation",
        summary="Finish a rotation early: only the current secret signs from now on",
        status_code=HTTP_200_OK,
        responses=problem_responses(*INPUT, *ADMIN, 404),
    )
    async def finish_rotation(self, partner_id: PartnerId, db_session: AsyncSession) -> PartnerView:
        async with db_session.begin():
            return _view(await services.finish_rotation(db_session, partner_id))


class PartnerInternalController(Controller):
    """For the dispatcher only: the service token, never a user JWT."""

    path = "/internal/partners"
    tags = ["internal"]
    guards = [requires_service_token]
    security = [{"ServiceToken": []}]

    @get(
        "/",
        operation_id="internalDeliveryTargets",
        summary="Enabled subscribers of an event type, with secrets",
        responses=problem_responses(*INPUT, *SERVICE),
    )
    async def targets(
        self,
        db_session: AsyncSession,
        gateway_settings: GatewaySettings,
        event_type: Annotated[EventType, QueryParameter(name="event_type")],
        include_disabled: Annotated[
            bool,
            QueryParameter(name="include_disabled", description="Disabled subscribers too (enabled: false)"),
        ] = False,
    ) -> PartnerTargetList:
        async with db_session.begin():
            items = await services.delivery_targets(
                db_session,
                event_type,
                settings=gateway_settings,
                service_token=gateway_settings.paygate.service_token.get_secret_value(),
                include_disabled=include_disabled,
            )
        return PartnerTargetList(items=items)

    @post(
        "/{partner_id:uuid}/disable",
        operation_id="internalDisablePartner",
        summary="Disable a partner's endpoint (the dispatcher got 410 Gone)",
        status_code=HTTP_200_OK,
        responses=problem_responses(*INPUT, *SERVICE, 404),
    )
    async def disable(
        self,
        request: Request[Any, Any, Any],
        partner_id: PartnerId,
        data: PartnerDisable,
        db_session: AsyncSession,
    ) -> PartnerView:
        data = await strictly(request, data)
        async with db_session.begin():
            return _view(await services.disable_partner(db_session, partner_id, reason=data.reason))


class OperationalEventInternalController(Controller):
    """The ``endpoint.*`` outbox, read by the dispatcher (it sends, logs and counts them)."""

    path = "/internal/operational-events"
    tags = ["internal"]
    guards = [requires_service_token]
    security = [{"ServiceToken": []}]

    @get(
        "/",
        operation_id="internalOperationalEvents",
        summary="endpoint.* events not processed yet, oldest first",
        responses=problem_responses(*INPUT, *SERVICE),
    )
    async def pending(
        self, db_session: AsyncSession, limit: Annotated[int, Parameter(ge=1, le=500)] = 100
    ) -> OperationalEventList:
        async with db_session.begin():
            rows = await services.pending_operational_events(db_session, limit=limit)
        return OperationalEventList(items=[OperationalEvent(**row) for row in rows])

    @post(
        "/processed",
        operation_id="internalOperationalEventsProcessed",
        summary="Mark endpoint.* events processed (sent or given up, logged)",
        status_code=HTTP_204_NO_CONTENT,
        responses=problem_responses(*INPUT, *SERVICE),
    )
    async def processed(
        self, request: Request[Any, Any, Any], data: OperationalEventsProcessed, db_session: AsyncSession
    ) -> None:
        data = await strictly(request, data)
        async with db_session.begin():
            await services.mark_operational_events_processed(db_session, data.ids)
