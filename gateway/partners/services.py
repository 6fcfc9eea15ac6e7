"""The partner registry as plain functions: the admin API, the internal API and the ``paygate``
command (engineer D) all call these. Each flushes inside the caller's transaction; the caller commits.

Disabling, re-enabling and rotating write an operational event (``endpoint.*``) in the same
transaction: the dispatcher sends it to the operator's endpoint, logs and counts it.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.partners import repositories
from gateway.partners.schemas import PartnerView, SigningSecretView
from gateway.partners.urls import validate_partner_url
from gateway.settings import GatewaySettings
from shared.contracts import PartnerTarget, SendTestEventRequest
from shared.models import EVENT_TYPES, Partner
from shared.pagination import decode_cursor, page
from shared.problems import ConflictError, InvalidInputError, found
from shared.webhooks import derived_secret, generate_secret

GATEWAY_SUBSCRIBER_ID = uuid.UUID("00000000-0000-0000-0000-000000000001")
GATEWAY_SUBSCRIBER_PURPOSE = "gateway-payment-events"
MAX_REQUESTS_PER_SECOND = 10_000

logger = logging.getLogger("gateway.partners")


class Unset:
    """``update_partner``'s "leave as it is" for fields where None means something (no rate limit)."""


UNSET = Unset()


@dataclass(frozen=True, slots=True)
class SigningSecret:
    """One secret that signs deliveries now (never the secret itself): the current one has no end."""

    fingerprint: str
    current: bool
    retired_at: datetime | None
    signs_until: datetime | None


def fingerprint(secret: str) -> str:
    """A short, non-reversible name for a secret, so a partner can tell which of its secrets signs."""
    return hashlib.sha256(secret.encode()).hexdigest()[:12]


def _checked_rate(rate: int | None) -> int | None:
    if rate is not None and not 1 <= rate <= MAX_REQUESTS_PER_SECOND:
        raise InvalidInputError(f"max_requests_per_second must be between 1 and {MAX_REQUESTS_PER_SECOND}")
    return rate


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
    return found(await repositories.get(session, partner_id, for_update=for_update), "No such partner.")


async def create_partner(
    session: AsyncSession,
    *,
    name: str,
    url: str,
    event_types: Iterable[str],
    enabled: bool = True,
    payer_details: bool = False,
    ordered: bool = False,
    max_requests_per_second: int | None = None,
    settings: GatewaySettings,
) -> Partner:
    """A new partner with a fresh ``whsec_`` secret in ``partner.secret`` (show it once)."""
    partner = Partner(
        name=name.strip(),
        url=_checked_url(url, settings),
        event_types=_checked_event_types(event_types),
        enabled=enabled,
        payer_details=payer_details,
        disabled_reason=None if enabled else "created disabled",
        disabled_at=None if enabled else datetime.now(UTC),
        secret=generate_secret(),
        retired_secrets=[],
        ordered=ordered,
        max_requests_per_second=_checked_rate(max_requests_per_second),
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
    payer_details: bool | None = None,
    ordered: bool | None = None,
    max_requests_per_second: int | Unset | None = UNSET,
    reason: str | None = None,
    settings: GatewaySettings,
) -> Partner:
    """``enabled=False`` disables with ``reason`` (see ``disable_partner``); ``True`` re-enables and the
    dispatcher resumes the deliveries that waited."""
    partner = await get_partner(session, partner_id, for_update=True)
    if name is not None:
        partner.name = name.strip()
    if url is not None:
        partner.url = _checked_url(url, settings)
    if event_types is not None:
        partner.event_types = _checked_event_types(event_types)
    if payer_details is not None:
        partner.payer_details = payer_details
    if ordered is not None:
        partner.ordered = ordered
    if not isinstance(max_requests_per_second, Unset):
        partner.max_requests_per_second = _checked_rate(max_requests_per_second)
    if enabled is True and not partner.enabled:
        partner.enabled = True
        partner.disabled_reason = None
        partner.disabled_at = None
        await _record(session, "endpoint.enabled", partner, {})
    elif enabled is False and partner.enabled:
        await _disable(session, partner, reason or "disabled by an operator")
    await _flush(session, partner)
    return partner


async def _record(session: AsyncSession, event_type: str, partner: Partner, data: dict[str, Any]) -> None:
    """The operational event of a change to ``partner``, in the caller's transaction."""
    body = {"partner_id": str(partner.id), "name": partner.name, "url": partner.url, **data}
    await repositories.add_operational_event(session, event_type, partner.id, body)
    logger.info(
        "%s: partner %s (%s) %s",
        event_type,
        partner.name,
        partner.id,
        data.get("reason", ""),
        extra={"event_type": event_type, "partner_id": str(partner.id)},
    )


async def _disable(session: AsyncSession, partner: Partner, reason: str) -> None:
    partner.enabled = False
    partner.disabled_reason = reason[:200] or "disabled"
    partner.disabled_at = datetime.now(UTC)
    await _record(session, "endpoint.disabled", partner, {"reason": partner.disabled_reason})


async def rotate_secret(
    session: AsyncSession,
    partner_id: uuid.UUID,
    *,
    now: datetime | None = None,
    settings: GatewaySettings,
) -> Partner:
    """A new current secret. The replaced one keeps signing for the overlap (24 h by default), and so
    does every earlier one still inside its own overlap: rotating again never cuts a promise short."""
    now = now or datetime.now(UTC)
    partner = await get_partner(session, partner_id, for_update=True)
    expires = now + timedelta(hours=settings.secret_rotation_overlap_hours)
    retired = {"secret": partner.secret, "retired_at": now.isoformat(), "expires_at": expires.isoformat()}
    partner.retired_secrets = [retired, *_live_retired(partner, now)]
    partner.secret = generate_secret()
    await _record(session, "endpoint.secret_rotated", partner, {"signing": _signing_data(partner, now)})
    await _flush(session, partner)
    return partner


async def finish_rotation(
    session: AsyncSession, partner_id: uuid.UUID, *, now: datetime | None = None
) -> Partner:
    """Drop every retired secret now: only the current one signs from the next delivery on (within the
    dispatcher's partner cache, a few seconds)."""
    now = now or datetime.now(UTC)
    partner = await get_partner(session, partner_id, for_update=True)
    if _live_retired(partner, now):
        partner.retired_secrets = []
        await _record(
            session,
            "endpoint.secret_rotated",
            partner,
            {"finished_early": True, "signing": _signing_data(partner, now)},
        )
    else:
        partner.retired_secrets = []
    await _flush(session, partner)
    return partner


async def disable_partner(session: AsyncSession, partner_id: uuid.UUID, *, reason: str) -> Partner:
    """Stop deliveries to a partner (the dispatcher calls this on a 410 Gone or when the health policy
    gives up on it); its waiting deliveries stay and resume when it is enabled again."""
    partner = await get_partner(session, partner_id, for_update=True)
    if partner.enabled:
        await _disable(session, partner, reason)
    await _flush(session, partner)
    return partner


async def delete_partner(session: AsyncSession, partner_id: uuid.UUID) -> None:
    await session.delete(await get_partner(session, partner_id, for_update=True))
    await session.flush()


def _live_retired(partner: Partner, now: datetime) -> list[dict[str, Any]]:
    """Retired secrets still inside their overlap, newest first."""
    return [r for r in partner.retired_secrets or [] if datetime.fromisoformat(r["expires_at"]) > now]


def signing_secrets(partner: Partner, *, now: datetime | None = None) -> list[str]:
    """The current secret, then every retired one while its overlap lasts (newest first)."""
    live = _live_retired(partner, now or datetime.now(UTC))
    return [partner.secret, *(r["secret"] for r in live)]


def signing_windows(partner: Partner, *, now: datetime | None = None) -> list[SigningSecret]:
    """Which secrets sign now and until when, without the secrets."""
    live = _live_retired(partner, now or datetime.now(UTC))
    return [
        SigningSecret(fingerprint(partner.secret), True, None, None),
        *(
            SigningSecret(
                fingerprint(r["secret"]),
                False,
                datetime.fromisoformat(r["retired_at"]),
                datetime.fromisoformat(r["expires_at"]),
            )
            for r in live
        ),
    ]


def _signing_data(partner: Partner, now: datetime) -> list[dict[str, Any]]:
    return [
        {
            "fingerprint": w.fingerprint,
            "current": w.current,
            "signs_until": w.signs_until.isoformat() if w.signs_until else None,
        }
        for w in signing_windows(partner, now=now)
    ]


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
    session: AsyncSession,
    event_type: str,
    *,
    settings: GatewaySettings,
    service_token: str,
    include_disabled: bool = False,
) -> list[PartnerTarget]:
    """Subscribers of ``event_type`` with what the dispatcher needs to sign and pace their deliveries."""
    partners, _ = await list_partners(
        session, event_type=event_type, enabled=None if include_disabled else True
    )
    now = datetime.now(UTC)
    targets = [
        PartnerTarget(
            id=p.id,
            url=p.url,
            secrets=signing_secrets(p, now=now),
            payer_details=p.payer_details,
            enabled=p.enabled,
            ordered=p.ordered,
            max_requests_per_second=p.max_requests_per_second,
        )
        for p in partners
    ]
    builtin = gateway_subscriber(settings, service_token)
    return [builtin, *targets] if builtin is not None else targets


async def pending_operational_events(session: AsyncSession, *, limit: int = 100) -> list[dict[str, Any]]:
    """``endpoint.*`` events not yet processed by a dispatcher, oldest first."""
    rows = await repositories.unprocessed_operational_events(session, limit)
    return [
        {"id": r.id, "type": r.type, "partner_id": r.partner_id, "data": r.data, "created_at": r.created_at}
        for r in rows
    ]


async def mark_operational_events_processed(session: AsyncSession, ids: Sequence[uuid.UUID]) -> int:
    return await repositories.mark_operational_events_processed(session, ids)


async def test_send_request(
    session: AsyncSession, partner_id: uuid.UUID, event_type: str
) -> SendTestEventRequest:
    """What payment_ms needs to send a partner a test event: its URL and the secrets signing now."""
    partner = await get_partner(session, partner_id)
    request = {"partner_id": partner.id, "url": partner.url, "secrets": signing_secrets(partner)}
    return SendTestEventRequest(**request, type=event_type)  # type: ignore[arg-type]


def partner_view(partner: Partner, *, now: datetime | None = None) -> PartnerView:
    """A partner as the admin API and the ``paygate partners`` command show it (never its secrets)."""
    windows = signing_windows(partner, now=now)
    ends = [w.signs_until for w in windows if w.signs_until is not None]
    return PartnerView(
        id=partner.id,
        name=partner.name,
        url=partner.url,
        event_types=list(partner.event_types),
        enabled=partner.enabled,
        payer_details=partner.payer_details,
        disabled_reason=partner.disabled_reason,
        disabled_at=partner.disabled_at,
        ordered=partner.ordered,
        max_requests_per_second=partner.max_requests_per_second,
        signing_secrets=[
            SigningSecretView(
                fingerprint=w.fingerprint,
                current=w.current,
                retired_at=w.retired_at,
                signs_until=w.signs_until,
            )
            for w in windows
        ],
        previous_secret_expires_at=max(ends) if ends else None,
        created_at=partner.created_at,
        updated_at=partner.updated_at,
    )
