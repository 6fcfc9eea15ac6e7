"""Admin CRUD of the partner registry, and the dispatcher's internal view of it."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, delete, get, patch, post
from litestar.params import FromQuery, JSONBody, Parameter, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from gateway.auth.audiences import AdminController
from gateway.dependencies import DbSession, Settings, strictly
from gateway.openapi import ADMIN, INPUT, SERVICE
from gateway.partners import services
from gateway.partners.schemas import (
    PartnerCreate,
    PartnerDisable,
    PartnerId,
    PartnerList,
    PartnerUpdate,
    PartnerView,
    PartnerWithSecret,
)
from shared.contracts import (
    EventType,
    OperationalEvent,
    OperationalEventList,
    OperationalEventsProcessed,
    PartnerTargetList,
)
from shared.models import Partner
from shared.operations import ServiceTokenController, operation
from shared.queries import Cursor, Limit

# 409: a partner with this name exists; 422: the url or the event types are refused
WRITE_ERRORS = (409, 422)


def _view(partner: Partner) -> PartnerView:
    return services.partner_view(partner)


def _with_secret(partner: Partner) -> PartnerWithSecret:
    return PartnerWithSecret(
        **{f: getattr(_view(partner), f) for f in PartnerView.__struct_fields__}, secret=partner.secret
    )


_SETTABLE = ("name", "url", "event_types", "enabled", "payer_details", "ordered")


def _settable(data: PartnerCreate | PartnerUpdate) -> dict[str, Any]:
    """What a create and an update both take from the body, by the service's names (an update's
    absent fields are None: unchanged)."""
    return {name: getattr(data, name) for name in _SETTABLE}


class PartnerAdminController(AdminController):
    path = "/admin/partners"
    tags = ["admin: partners"]

    @operation(post, "/", "createPartner", (*INPUT, *ADMIN, *WRITE_ERRORS))
    async def create(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[PartnerCreate],
        db_session: DbSession,
        gateway_settings: Settings,
    ) -> PartnerWithSecret:
        """Register a partner (its secret is shown once)"""
        data = await strictly(request, data)
        async with db_session.begin():
            partner = await services.create_partner(
                db_session,
                **_settable(data),
                max_requests_per_second=data.max_requests_per_second,
                settings=gateway_settings,
            )
        return _with_secret(partner)

    @operation(get, "/", "listPartners", (*INPUT, *ADMIN))
    async def list_(
        self,
        db_session: DbSession,
        event_type: Annotated[EventType | None, QueryParameter(name="event_type")] = None,
        enabled: FromQuery[bool | None] = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> PartnerList:
        """Partners, oldest first (cursor pagination)"""
        async with db_session.begin():
            partners, next_cursor = await services.list_partners(
                db_session, event_type=event_type, enabled=enabled, cursor=cursor, limit=limit
            )
        return PartnerList(items=[_view(p) for p in partners], next_cursor=next_cursor)

    @operation(get, "/{partner_id:uuid}", "getPartner", (*INPUT, *ADMIN, 404))
    async def get_(self, partner_id: PartnerId, db_session: DbSession) -> PartnerView:
        """One partner (without its secret)"""
        async with db_session.begin():
            return _view(await services.get_partner(db_session, partner_id))

    @operation(patch, "/{partner_id:uuid}", "updatePartner", (*INPUT, *ADMIN, 404, *WRITE_ERRORS))
    async def update(
        self,
        partner_id: PartnerId,
        request: Request[Any, Any, Any],
        data: JSONBody[PartnerUpdate],
        db_session: DbSession,
        gateway_settings: Settings,
    ) -> PartnerView:
        """Change name, url, events, enabled (with a reason), payer details, ordering, rate limit"""
        data = await strictly(request, data)
        async with db_session.begin():
            partner = await services.update_partner(
                db_session,
                partner_id,
                **_settable(data),
                reason=data.disabled_reason,
                max_requests_per_second=services.UNSET
                if isinstance(data.max_requests_per_second, msgspec.UnsetType)
                else data.max_requests_per_second,
                settings=gateway_settings,
            )
        return _view(partner)

    @operation(
        delete, "/{partner_id:uuid}", "deletePartner", (*INPUT, *ADMIN, 404), status_code=HTTP_204_NO_CONTENT
    )
    async def delete_(self, partner_id: PartnerId, db_session: DbSession) -> None:
        """Remove a partner"""
        async with db_session.begin():
            await services.delete_partner(db_session, partner_id)

    @operation(
        post,
        "/{partner_id:uuid}/rotate-secret",
        "rotatePartnerSecret",
        (*INPUT, *ADMIN, 404),
        status_code=HTTP_200_OK,
    )
    async def rotate_secret(
        self, partner_id: PartnerId, db_session: DbSession, gateway_settings: Settings
    ) -> PartnerWithSecret:
        """New signing secret; every replaced one keeps signing for 24 h after its rotation

        The answer's signing_secrets says which secrets sign and until when.
        """
        async with db_session.begin():
            partner = await services.rotate_secret(db_session, partner_id, settings=gateway_settings)
        return _with_secret(partner)

    @operation(
        post,
        "/{partner_id:uuid}/finish-rotation",
        "finishPartnerRotation",
        (*INPUT, *ADMIN, 404),
        status_code=HTTP_200_OK,
    )
    async def finish_rotation(self, partner_id: PartnerId, db_session: DbSession) -> PartnerView:
        """Finish a rotation early: only the current secret signs from now on"""
        async with db_session.begin():
            return _view(await services.finish_rotation(db_session, partner_id))


class PartnerInternalController(ServiceTokenController):
    """For the dispatcher only: the service token, never a user JWT."""

    path = "/internal/partners"
    tags = ["internal"]

    @operation(get, "/", "internalDeliveryTargets", (*INPUT, *SERVICE))
    async def targets(
        self,
        db_session: DbSession,
        gateway_settings: Settings,
        event_type: Annotated[EventType, QueryParameter(name="event_type")],
        include_disabled: Annotated[
            bool,
            QueryParameter(name="include_disabled", description="Disabled subscribers too (enabled: false)"),
        ] = False,
    ) -> PartnerTargetList:
        """Enabled subscribers of an event type, with secrets"""
        async with db_session.begin():
            items = await services.delivery_targets(
                db_session,
                event_type,
                settings=gateway_settings,
                service_token=gateway_settings.paygate.service_token.get_secret_value(),
                include_disabled=include_disabled,
            )
        return PartnerTargetList(items=items)

    @operation(
        post,
        "/{partner_id:uuid}/disable",
        "internalDisablePartner",
        (*INPUT, *SERVICE, 404),
        status_code=HTTP_200_OK,
    )
    async def disable(
        self,
        request: Request[Any, Any, Any],
        partner_id: PartnerId,
        data: JSONBody[PartnerDisable],
        db_session: DbSession,
    ) -> PartnerView:
        """Disable a partner's endpoint (the dispatcher got 410 Gone)"""
        data = await strictly(request, data)
        async with db_session.begin():
            return _view(await services.disable_partner(db_session, partner_id, reason=data.reason))


class OperationalEventInternalController(ServiceTokenController):
    """The ``endpoint.*`` outbox, read by the dispatcher (it sends, logs and counts them)."""

    path = "/internal/operational-events"
    tags = ["internal"]

    @operation(get, "/", "internalOperationalEvents", (*INPUT, *SERVICE))
    async def pending(
        self, db_session: DbSession, limit: Annotated[int, Parameter(ge=1, le=500)] = 100
    ) -> OperationalEventList:
        """endpoint.* events not processed yet, oldest first"""
        async with db_session.begin():
            rows = await services.pending_operational_events(db_session, limit=limit)
        return OperationalEventList(items=[OperationalEvent(**row) for row in rows])

    @operation(
        post,
        "/processed",
        "internalOperationalEventsProcessed",
        (*INPUT, *SERVICE),
        status_code=HTTP_204_NO_CONTENT,
    )
    async def processed(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[OperationalEventsProcessed],
        db_session: DbSession,
    ) -> None:
        """Mark endpoint.* events processed (sent or given up, logged)"""
        data = await strictly(request, data)
        async with db_session.begin():
            await services.mark_operational_events_processed(db_session, data.ids)
