"""Login request and answers."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

import msgspec

from shared.contracts import SINGLE_LINE_PATTERN


class LoginRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    email: Annotated[str, msgspec.Meta(min_length=3, max_length=320, pattern=SINGLE_LINE_PATTERN)]
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]


class AccessToken(msgspec.Struct, kw_only=True):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class Me(msgspec.Struct, kw_only=True):
    id: UUID
    email: str
    role: str
