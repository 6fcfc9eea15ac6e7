"""The gateway's audiences as base controllers: who may call (the guard), how the OpenAPI document
says so (the security scheme) and the caller as a dependency (``current_user``), declared once per
audience. Internal routes use ``shared.operations.ServiceTokenController``."""

from __future__ import annotations

from litestar import Controller
from litestar.di import Provide

from gateway.auth.dependencies import provide_current_user
from gateway.auth.guards import requires_admin, requires_user


class UserController(Controller):
    """Routes for any signed-in user (``Authorization: Bearer``)."""

    guards = [requires_user]
    security = [{"BearerToken": []}]
    dependencies = {"current_user": Provide(provide_current_user, sync_to_thread=False)}


class AdminController(UserController):
    """Routes for admins only (403 for any other user)."""

    guards = [requires_admin]
