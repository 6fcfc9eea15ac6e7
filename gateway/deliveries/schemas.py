"""The admin's replay body (the partner comes from the route)."""

from __future__ import annotations

from datetime import datetime

import msgspec


class ReplaySince(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    since: datetime
