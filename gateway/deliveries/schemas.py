"""The admin's replay body (the partner comes from the route)."""

from __future__ import annotations

import msgspec

from shared.contracts.types import Moment


class ReplayWindow(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Deliveries created in ``[since, until)`` (no ``until``: up to now): the failed and canceled ones,
    or with ``all`` the succeeded ones too."""

    since: Moment
    until: Moment | None = None
    all: bool = False
