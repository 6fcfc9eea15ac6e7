"""The portal's JSON API: the partners' pull feed (their own API tokens) and the operators' portal links
(admin users), both documented in the gateway's OpenAPI."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, get, post
from litestar.params import PathParameter, QueryParameter
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.auth.audiences import AdminController
from gateway.dependencies import CurrentUser, DbEngine, Settings
from gateway.openapi import ADMIN, INPUT, UPSTREAM
from gateway.partners.schemas import PartnerId
from gateway.payments.dependencies import PaymentMs
from gateway.portal import services
from shared.contracts import EventFeed
from shared.events import public_data
from shared.operations import operation
from shared.queries import FeedQuery

LinkId = Annotated[UUID, PathParameter(description="Portal link id")]
LINK_ERRORS = (*INPUT, *ADMIN, 404)  # 404: no such partner, or no such link of it


class PortalLink(msgspec.Struct, kw_only=True):
    """A portal link: ``url`` is only in the answer that issued it (the token is not kept)."""

    id: UUID
    partner_id: UUID
    url: str
    expires_at: datetime


class PortalLinkState(msgspec.Struct, kw_only=True):
    id: UUID
    partner_id: UUID
    issued_by: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None
    revoked_at: datetime | None


class PartnerFeedController(Controller):
    path = "/partner/v1"
    tags = ["partner feed"]
    security = [{"PartnerToken": []}]

    @operation(get, "/events", "partnerEvents", (*INPUT, 401, *UPSTREAM))
    async def events(
        self,
        request: Request[Any, Any, Any],
        payment_ms: PaymentMs,
        gateway_settings: Settings,
        after: Annotated[
            str | None, QueryParameter(max_length=200, description="next_cursor of the last page")
        ] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200, description="Page size")] = 100,
    ) -> EventFeed:
        """The events you subscribe to, oldest first, after a cursor

        Authenticate with a partner API token issued in the portal (`Authorization: Bearer pgp_…`). Start
        without `after`; pass each answer's `next_cursor` as the next `after`. Events of the types you
        subscribe to now, from your registration on; the newest `GATEWAY_PARTNER_FEED_SETTLE_SECONDS` are
        held back so that none is ever skipped.
        """
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        engine: AsyncEngine = request.app.state.db_engine
        caller = await services.feed_caller(engine, token.strip() if scheme.lower() == "bearer" else None)
        query = FeedQuery(
            types=caller.event_types,  # type: ignore[arg-type]  # the partner's, checked when stored
            created_from=caller.created_at,
            settle_seconds=gateway_settings.partner_feed_settle_seconds,
            after=after,
            limit=limit,
        )
        feed = await payment_ms.event_feed(query)
        for item in feed.items:  # what a webhook would carry: the public shape, never the stored row
            data = public_data(msgspec.json.encode(item.data), item.type, payer_details=caller.payer_details)
            item.data = msgspec.to_builtins(data)
        return feed


class PortalLinkAdminController(AdminController):
    path = "/admin/partners"
    tags = ["admin: partners"]

    @operation(post, "/{partner_id:uuid}/portal-links", "adminIssuePortalLink", LINK_ERRORS, status_code=201)
    async def issue(
        self,
        partner_id: PartnerId,
        current_user: CurrentUser,
        db_engine: DbEngine,
        gateway_settings: Settings,
    ) -> PortalLink:
        """Issue a single-use link into the partner's portal (its URL is shown once)"""
        async with db_engine.begin() as conn:
            link = await services.issue_link(
                conn, gateway_settings, partner_id, issued_by=current_user.email or str(current_user.id)
            )
        return PortalLink(id=link.id, partner_id=link.partner_id, url=link.url, expires_at=link.expires_at)

    @operation(
        post,
        "/{partner_id:uuid}/portal-links/{link_id:uuid}/revoke",
        "adminRevokePortalLink",
        LINK_ERRORS,
        status_code=200,
    )
    async def revoke(self, partner_id: PartnerId, link_id: LinkId, db_engine: DbEngine) -> PortalLinkState:
        """Revoke a portal link: it no longer opens, and the session it opened ends"""
        async with db_engine.begin() as conn:
            row = await services.revoke_link(conn, partner_id, link_id)
        return PortalLinkState(**{f: row[f] for f in PortalLinkState.__struct_fields__})

    @operation(get, "/{partner_id:uuid}/portal-links", "adminListPortalLinks", LINK_ERRORS)
    async def list_(self, partner_id: PartnerId, db_engine: DbEngine) -> list[PortalLinkState]:
        """The partner's latest portal links and their state (never their URLs)"""
        rows = await services.list_links(db_engine, partner_id)
        return [PortalLinkState(**{f: row[f] for f in PortalLinkState.__struct_fields__}) for row in rows]
