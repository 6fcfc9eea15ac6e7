"""The authenticated caller as a handler dependency (its controller's guard has already checked it)."""

from __future__ import annotations

from typing import Any

from litestar import Request

from gateway.auth.guards import authenticate_user
from gateway.auth.tokens import AuthUser


def provide_current_user(request: Request[Any, Any, Any]) -> AuthUser:
    return authenticate_user(request)
