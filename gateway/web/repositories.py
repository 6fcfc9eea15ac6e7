"""SQL of the browser sessions, portal links and partner API tokens (gateway tables)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import ColumnElement, func, insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.partners.services import GATEWAY_SUBSCRIBER_ID
from shared.models import Base

sessions = Base.metadata.tables["web_sessions"]
links = Base.metadata.tables["portal_links"]
api_tokens = Base.metadata.tables["partner_api_tokens"]
users = Base.metadata.tables["users"]
partners = Base.metadata.tables["partners"]


async def insert_session(conn: AsyncConnection, values: dict[str, object]) -> None:
    await conn.execute(insert(sessions).values(values))


def _live(token_hash: str, kind: str) -> tuple[ColumnElement[bool], ...]:
    """The session of this token and kind, if unexpired and not revoked."""
    return (
        sessions.c.token_hash == token_hash,
        sessions.c.kind == kind,
        sessions.c.revoked_at.is_(None),
        sessions.c.expires_at > func.now(),
    )


async def live_console_session(conn: AsyncConnection, token_hash: str) -> RowMapping | None:
    """The session with its user, if live and the user still an active admin."""
    query = (
        select(sessions, users.c.email, users.c.role, users.c.is_active)
        .join(users, users.c.id == sessions.c.user_id)
        .where(*_live(token_hash, "console"))
    )
    return (await conn.execute(query)).mappings().one_or_none()


async def live_portal_session(conn: AsyncConnection, token_hash: str) -> RowMapping | None:
    """The session, if live and the link it came from is not revoked."""
    query = (
        select(sessions)
        .outerjoin(links, links.c.id == sessions.c.portal_link_id)
        .where(*_live(token_hash, "portal"), links.c.revoked_at.is_(None))
    )
    return (await conn.execute(query)).mappings().one_or_none()


async def revoke_session(conn: AsyncConnection, token_hash: str) -> None:
    await conn.execute(
        update(sessions)
        .where(sessions.c.token_hash == token_hash, sessions.c.revoked_at.is_(None))
        .values(revoked_at=func.now())
    )


async def revoke_partner_sessions(conn: AsyncConnection, partner_id: uuid.UUID) -> int:
    result = await conn.execute(
        update(sessions)
        .where(sessions.c.partner_id == partner_id, sessions.c.revoked_at.is_(None))
        .values(revoked_at=func.now())
    )
    return result.rowcount


async def insert_link(conn: AsyncConnection, values: dict[str, object]) -> RowMapping:
    return (await conn.execute(insert(links).values(values).returning(*links.c))).mappings().one()


async def use_link(conn: AsyncConnection, token_hash: str) -> RowMapping | None:
    """Mark a link used, in one statement: only an unused, unrevoked, unexpired link is taken, once."""
    query = (
        update(links)
        .where(
            links.c.token_hash == token_hash,
            links.c.used_at.is_(None),
            links.c.revoked_at.is_(None),
            links.c.expires_at > func.now(),
        )
        .values(used_at=func.now())
        .returning(*links.c)
    )
    return (await conn.execute(query)).mappings().one_or_none()


async def revoke_link(conn: AsyncConnection, partner_id: uuid.UUID, link_id: uuid.UUID) -> RowMapping | None:
    query = (
        update(links)
        .where(links.c.id == link_id, links.c.partner_id == partner_id, links.c.revoked_at.is_(None))
        .values(revoked_at=func.now())
        .returning(*links.c)
    )
    return (await conn.execute(query)).mappings().one_or_none()


async def list_links(conn: AsyncConnection, partner_id: uuid.UUID, limit: int = 20) -> Sequence[RowMapping]:
    query = (
        select(links).where(links.c.partner_id == partner_id).order_by(links.c.created_at.desc()).limit(limit)
    )
    return (await conn.execute(query)).mappings().all()


async def insert_api_token(conn: AsyncConnection, values: dict[str, object]) -> RowMapping:
    return (await conn.execute(insert(api_tokens).values(values).returning(*api_tokens.c))).mappings().one()


async def list_api_tokens(conn: AsyncConnection, partner_id: uuid.UUID) -> Sequence[RowMapping]:
    query = (
        select(api_tokens)
        .where(api_tokens.c.partner_id == partner_id)
        .order_by(api_tokens.c.created_at.desc())
        .limit(100)
    )
    return (await conn.execute(query)).mappings().all()


async def revoke_api_token(conn: AsyncConnection, partner_id: uuid.UUID, token_id: uuid.UUID) -> bool:
    result = await conn.execute(
        update(api_tokens)
        .where(
            api_tokens.c.id == token_id,
            api_tokens.c.partner_id == partner_id,
            api_tokens.c.revoked_at.is_(None),
        )
        .values(revoked_at=func.now())
    )
    return result.rowcount > 0


async def use_api_token(conn: AsyncConnection, token_hash: str) -> RowMapping | None:
    """The live token's partner (its subscription and creation time), and the token's last use noted."""
    query = (
        update(api_tokens)
        .where(api_tokens.c.token_hash == token_hash, api_tokens.c.revoked_at.is_(None))
        .values(last_used_at=func.now())
        .returning(api_tokens.c.id, api_tokens.c.partner_id)
    )
    token = (await conn.execute(query)).mappings().one_or_none()
    if token is None:
        return None
    partner = select(
        partners.c.id, partners.c.event_types, partners.c.created_at, partners.c.payer_details
    ).where(partners.c.id == token["partner_id"])
    return (await conn.execute(partner)).mappings().one_or_none()


async def partner_names(conn: AsyncConnection) -> dict[uuid.UUID, str]:
    """Every partner's name, and the gateway's own subscriber (reservations follow their payments)."""
    rows = await conn.execute(select(partners.c.id, partners.c.name).order_by(partners.c.name).limit(5000))
    return {GATEWAY_SUBSCRIBER_ID: "the gateway (reservations)", **{row.id: row.name for row in rows}}


async def partner_exists(conn: AsyncConnection, partner_id: uuid.UUID) -> bool:
    return await conn.scalar(select(partners.c.id).where(partners.c.id == partner_id)) is not None


async def payer_details(conn: AsyncConnection, partner_id: uuid.UUID) -> bool:
    """Whether the partner's webhooks carry the payer's details (False for a partner since deleted)."""
    return bool(await conn.scalar(select(partners.c.payer_details).where(partners.c.id == partner_id)))
