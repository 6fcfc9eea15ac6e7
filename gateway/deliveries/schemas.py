"""The admin's replay body (the partner comes from the route)."""

from __future__ import annotations

from datetime import datetime

import msgspec


class ReplayWindow(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Deliveries created in ``[since, until)`` (no ``until``: up to now): the failed and canceled ones,
    or with ``all`` the succeeded ones too."""

    since: datetime
    until: datetime | None = None
    all: bool = False
