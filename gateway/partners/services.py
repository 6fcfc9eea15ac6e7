"""The partner registry as plain functions: the admin API, the internal API and the ``paygate``
command (engineer D) all call these. Each flushes inside the caller's transaction; the caller commits."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.partners import repositories
from gateway.partners.urls import validate_partner_url
from gateway.settings import GatewaySettings, get_gateway_settings
from shared.contracts import PartnerTarget
from shared.models import EVENT_TYPES, Partner
from shared.pagination import decode_cursor, page
from shared.problems import ConflictError, InvalidInputError, NotFoundError
from shared.webhooks import derived_secret, generate_secret

GATEWAY_SUBSCRIBER_ID = uuid.UUID("00000000-0000-0000-0000-000000000001")
GATEWAY_SUBSCRIBER_PURPOSE = "gateway-payment-events"


def _checked_url(url: str, settings: GatewaySettings) -> str:
    return validate_partner_url(
        url, allowed_hosts=settings.partner_allowed_hosts, allow_loopback=settings.paygate.is_dev
    )


def _checked_event_types(event_types: Iterable[str]) -> list[str]:
    unique = list(dict.fromkeys(event_types))
    unknown = [t for t in unique if t not in EVENT_TYPES]
    if unknown or not unique:
        raise InvalidInputError(f"event_types must be a non-empty subset of {', '.join(EVENT_TYPES)}")
    return unique


async def _flush(session: AsyncSession, partner: Partner) -> None:
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise ConflictError("a partner with this name exists") from None
    await session.refresh(partner)  # server-side defaults (timestamps) loaded, no lazy load later


async def get_partner(session: AsyncSession, partner_id: uuid.UUID, *, for_update: bool = False) -> Partner:
    partner = await repositories.get(session, partner_id, for_update=for_update)
    if partner is None:
        raise NotFoundError("No such partner.")
    return partner


async def create_partner(
    session: AsyncSession,
    *,
    name: str,
    url: str,
    event_types: Iterable[str],
    enabled: bool = True,
    settings: GatewaySettings | None = None,
) -> Partner:
    """A new partner with a fresh ``whsec_`` secret in ``partner.secret`` (show it once)."""
    settings = settings or get_gateway_settings()
    partner = Partner(
        name=name.strip(),
        url=_checked_url(url, settings),
        event_types=_checked_event_types(event_types),
        enabled=enabled,
        secret=generate_secret(),
    )
    session.add(partner)
    await _flush(session, partner)
    return partner


async def list_partners(
    session: AsyncSession,
    *,
    event_type: str | None = None,
    enabled: bool | None = None,
    cursor: str | None = None,
    limit: int | None = None,
) -> tuple[list[Partner], str | None]:
    """Partners (optionally only those subscribed to ``event_type``/enabled), oldest first: a page of
    ``limit`` and the cursor of the next one, or every one without ``limit``."""
    after = decode_cursor(cursor)
    if limit is None:
        return list(
            await repositories.list_(session, event_type=event_type, enabled=enabled, after=after)
        ), None
    rows = await repositories.list_(
        session, event_type=event_type, enabled=enabled, after=after, limit=limit + 1
    )
    return page(rows, limit, lambda row: (row.created_at, row.id))


async def update_partner(
    session: AsyncSession,
    partner_id: uuid.UUID,
    *,
    name: str | None = None,
    url: str | None = None,
    event_types: Iterable[str] | None = None,
    enabled: bool | None = None,
    settings: GatewaySettings | None = None,
) -> Partner:
    settings = settings or get_gateway_settings()
    partner = await get_partner(session, partner_id, for_update=True)
    if name is not None:
        partner.name = name.strip()
    if url is not None:
        partner.url = _checked_url(url, settings)
    if event_types is not None:
        partner.event_types = _checked_event_types(event_types)
    if enabled is not None:
        partner.enabled = enabled
        if enabled:
            partner.disabled_reason = None
    await _flush(session, partner)
    return partner


async def rotate_secret(
    session: AsyncSession,
    partner_id: uuid.UUID,
    *,
    now: datetime | None = None,
    settings: GatewaySettings | None = None,
) -> Partner:
    """A new current secret; the old one keeps signing beside it for the overlap (24 h by default)."""
    settings = settings or get_gateway_settings()
    partner = await get_partner(session, partner_id, for_update=True)
    partner.previous_secret = partner.secret
    partner.previous_secret_expires_at = (now or datetime.now(UTC)) + timedelta(
        hours=settings.secret_rotation_overlap_hours
    )
    partner.secret = generate_secret()
    await _flush(session, partner)
    return partner


async def disable_partner(session: AsyncSession, partner_id: uuid.UUID, *, reason: str) -> Partner:
    """Stop deliveries to a partner (the dispatcher calls this on a 410 Gone)."""
    partner = await get_partner(session, partner_id, for_update=True)
    partner.enabled = False
    partner.disabled_reason = reason[:200] or "disabled"
    await _flush(session, partner)
    return partner


async def delete_partner(session: AsyncSession, partner_id: uuid.UUID) -> None:
    await session.delete(await get_partner(session, partner_id, for_update=True))
    await session.flush()


def signing_secrets(partner: Partner, *, now: datetime | None = None) -> list[str]:
    """The current secret, then the previous one while its overlap lasts."""
    secrets = [partner.secret]
    expires = partner.previous_secret_expires_at
    if partner.previous_secret and expires is not None and expires > (now or datetime.now(UTC)):
        secrets.append(partner.previous_secret)
    return secrets


def gateway_subscriber(settings: GatewaySettings, service_token: str) -> PartnerTarget | None:
    """The gateway itself, receiving every event so reservations follow their payments."""
    url = settings.payment_events_url
    if url is None:
        return None
    return PartnerTarget(
        id=GATEWAY_SUBSCRIBER_ID,
        url=url,
        secrets=[derived_secret(service_token, GATEWAY_SUBSCRIBER_PURPOSE)],
    )


async def delivery_targets(
    session: AsyncSession, event_type: str, *, settings: GatewaySettings, service_token: str
) -> list[PartnerTarget]:
    partners, _ = await list_partners(session, event_type=event_type, enabled=True)
    now = datetime.now(UTC)
    targets = [PartnerTarget(id=p.id, url=p.url, secrets=signing_secrets(p, now=now)) for p in partners]
    builtin = gateway_subscriber(settings, service_token)
    return [builtin, *targets] if builtin is not None else targets
