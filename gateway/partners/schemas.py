"""Partner registry bodies. The signing secret only ever appears in ``PartnerWithSecret``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec

from shared.contracts import SINGLE_LINE_PATTERN, TEXT_PATTERN, EventType, Url

PartnerName = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=SINGLE_LINE_PATTERN)]
EventTypes = Annotated[list[EventType], msgspec.Meta(min_length=1, max_length=16)]


class PartnerCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: PartnerName
    url: Url
    event_types: EventTypes
    enabled: bool = True


class PartnerUpdate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: PartnerName | None = None
    url: Url | None = None
    event_types: EventTypes | None = None
    enabled: bool | None = None


class PartnerDisable(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    reason: Annotated[str, msgspec.Meta(max_length=200, pattern=TEXT_PATTERN)] = "disabled"


class PartnerView(msgspec.Struct, kw_only=True):
    id: UUID
    name: str
    url: str
    event_types: list[str]
    enabled: bool
    disabled_reason: str | None
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
