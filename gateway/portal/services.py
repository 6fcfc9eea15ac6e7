"""Portal links, portal sessions and partner API tokens.

A portal link is issued by an operator (``paygate partners portal-link ID``, the admin API, the console)
for one partner: it opens once, within ``GATEWAY_PORTAL_LINK_TTL_SECONDS``, and becomes a portal session
scoped to that partner (``GATEWAY_PORTAL_SESSION_SECONDS``). Revoking a link ends the session it opened.
Only SHA-256 hashes of link tokens, session tokens and API tokens are stored.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.settings import GatewaySettings
from gateway.web import repositories
from gateway.web.sessions import new_token, start_portal_session, token_hash
from shared.problems import AuthenticationError, InvalidInputError, NotFoundError, found

LINK_PREFIX = "pgl_"
API_TOKEN_PREFIX = "pgp_"
LINK_REFUSED = (
    "This portal link was already used, was revoked or has expired. Ask your operator for a new one."
)


@dataclass(frozen=True, slots=True)
class IssuedLink:
    id: uuid.UUID
    partner_id: uuid.UUID
    url: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class FeedCaller:
    partner_id: uuid.UUID
    event_types: list[str]
    created_at: datetime
    payer_details: bool


def link_url(settings: GatewaySettings, token: str) -> str:
    return f"{settings.public_url.rstrip('/')}/portal/enter/{token}"


async def issue_link(
    conn: AsyncConnection, settings: GatewaySettings, partner_id: uuid.UUID, *, issued_by: str
) -> IssuedLink:
    """A new link (in the caller's transaction): the console, the admin API and ``paygate`` call this."""
    if not await repositories.partner_exists(conn, partner_id):
        raise NotFoundError("No such partner.")
    token = new_token(LINK_PREFIX)
    row = await repositories.insert_link(
        conn,
        {
            "partner_id": partner_id,
            "token_hash": token_hash(token),
            "issued_by": issued_by[:320],
            "expires_at": datetime.now(UTC) + timedelta(seconds=settings.portal_link_ttl_seconds),
        },
    )
    return IssuedLink(row["id"], partner_id, link_url(settings, token), row["expires_at"])


async def revoke_link(conn: AsyncConnection, partner_id: uuid.UUID, link_id: uuid.UUID) -> RowMapping:
    """The link stops opening and the session it opened ends (the session's join on its link)."""
    return found(
        await repositories.revoke_link(conn, partner_id, link_id),
        "No such live portal link for this partner.",
    )


async def list_links(engine: AsyncEngine, partner_id: uuid.UUID) -> list[RowMapping]:
    """The partner's latest links; a partner that does not exist is a 404 (not an empty list)."""
    async with engine.connect() as conn:
        if not await repositories.partner_exists(conn, partner_id):
            raise NotFoundError("No such partner.")
        return list(await repositories.list_links(conn, partner_id))


async def open_link(engine: AsyncEngine, settings: GatewaySettings, token: str) -> tuple[uuid.UUID, str]:
    """Take the link (once) and start the partner's session: its partner and the session token."""
    if not token.startswith(LINK_PREFIX):
        raise AuthenticationError(LINK_REFUSED)
    async with engine.begin() as conn:
        link = await repositories.use_link(conn, token_hash(token))
    if link is None:
        raise AuthenticationError(LINK_REFUSED)
    session_token = await start_portal_session(
        engine, link["partner_id"], link["id"], settings.portal_session_seconds
    )
    return link["partner_id"], session_token


async def issue_api_token(engine: AsyncEngine, partner_id: uuid.UUID, name: str) -> tuple[RowMapping, str]:
    name = name.strip()
    if not 1 <= len(name) <= 100 or any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise InvalidInputError("A token needs a name of 1 to 100 characters on one line.")
    token = new_token(API_TOKEN_PREFIX)
    async with engine.begin() as conn:
        row = await repositories.insert_api_token(
            conn,
            {"partner_id": partner_id, "name": name, "token_hash": token_hash(token), "prefix": token[:10]},
        )
    return row, token


async def list_api_tokens(engine: AsyncEngine, partner_id: uuid.UUID) -> list[RowMapping]:
    async with engine.connect() as conn:
        return list(await repositories.list_api_tokens(conn, partner_id))


async def revoke_api_token(engine: AsyncEngine, partner_id: uuid.UUID, token_id: uuid.UUID) -> None:
    async with engine.begin() as conn:
        if not await repositories.revoke_api_token(conn, partner_id, token_id):
            raise NotFoundError("No such live token.")


async def feed_caller(engine: AsyncEngine, token: str | None) -> FeedCaller:
    if not token or not token.startswith(API_TOKEN_PREFIX):
        raise AuthenticationError("A partner API token is required.", headers=_CHALLENGE)
    async with engine.begin() as conn:
        row: Any = await repositories.use_api_token(conn, token_hash(token))
    if row is None:
        raise AuthenticationError("The partner API token is invalid or revoked.", headers=_CHALLENGE)
    return FeedCaller(row["id"], list(row["event_types"]), row["created_at"], row["payer_details"])


_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="paygate-partner"'}
