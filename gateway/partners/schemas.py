"""Partner registry bodies. The signing secret only ever appears in ``PartnerWithSecret``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec
from litestar.params import PathParameter

from shared.contracts import SINGLE_LINE_PATTERN, TEXT_PATTERN, EventType, Url

PartnerId = Annotated[UUID, PathParameter(description="Partner id")]  # in every /…/{partner_id} route
PartnerName = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=SINGLE_LINE_PATTERN)]
EventTypes = Annotated[list[EventType], msgspec.Meta(min_length=1, max_length=16)]
RequestRate = Annotated[
    int, msgspec.Meta(ge=1, le=10_000, description="Most requests per second one dispatcher sends it")
]
Reason = Annotated[str, msgspec.Meta(max_length=200, pattern=TEXT_PATTERN)]


class PartnerCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: PartnerName
    url: Url
    event_types: EventTypes
    enabled: bool = True
    payer_details: bool = False  # its webhooks carry the payer's email and name
    ordered: bool = False
    max_requests_per_second: RequestRate | None = None


class PartnerUpdate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Only what is given changes; ``max_requests_per_second: null`` removes the limit."""

    name: PartnerName | None = None
    url: Url | None = None
    event_types: EventTypes | None = None
    enabled: bool | None = None
    payer_details: bool | None = None
    disabled_reason: Reason | None = None
    ordered: bool | None = None
    max_requests_per_second: RequestRate | msgspec.UnsetType | None = msgspec.UNSET


class PartnerDisable(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    reason: Reason = "disabled"


class SigningSecretView(msgspec.Struct, kw_only=True):
    """A secret that signs deliveries now, named by a fingerprint (the first 12 hex digits of its
    SHA-256) and never shown: the current one (no end), and each retired one until ``signs_until``."""

    fingerprint: str
    current: bool
    retired_at: datetime | None
    signs_until: datetime | None


class PartnerView(msgspec.Struct, kw_only=True):
    id: UUID
    name: str
    url: str
    event_types: list[str]
    enabled: bool
    payer_details: bool
    disabled_reason: str | None
    disabled_at: datetime | None
    ordered: bool
    max_requests_per_second: int | None
    signing_secrets: list[SigningSecretView]
    # The latest end among the retired secrets that still sign (None: only the current one signs).
    previous_secret_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime


class PartnerWithSecret(PartnerView, kw_only=True):
    """Answer of creation and rotation: the only time the secret is shown."""

    secret: str


class PartnerList(msgspec.Struct, kw_only=True):
    """Oldest first; pass ``next_cursor`` back as ``cursor`` for the next page (None: the last one)."""

    items: list[PartnerView]
    next_cursor: str | None
