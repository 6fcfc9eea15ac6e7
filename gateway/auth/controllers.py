"""``POST /auth/login`` and ``GET /me``."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import CacheControlHeader, ResponseHeader
from litestar.di import Provide
from litestar.status_codes import HTTP_200_OK
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.auth import services
from gateway.auth.dependencies import provide_current_user
from gateway.auth.guards import requires_user
from gateway.auth.schemas import AccessToken, LoginRequest, Me
from gateway.auth.tokens import AuthUser, can_issue_tokens
from gateway.dependencies import strictly
from gateway.metrics.definitions import LOGINS
from gateway.openapi import DATABASE, INPUT, USER
from gateway.settings import GatewaySettings
from gateway.users.services import get_user
from shared.problems import AuthenticationError, NotFoundError, TooManyRequestsError, problem_responses


class AuthController(Controller):
    path = "/auth"
    tags = ["auth"]

    @post(
        "/login",
        operation_id="login",
        summary="Exchange email and password for a short-lived access token",
        status_code=HTTP_200_OK,
        # a token must not be kept by a browser, a proxy or a CDN (RFC 6749 section 5.1)
        cache_control=CacheControlHeader(no_store=True),
        response_headers=[ResponseHeader(name="Pragma", value="no-cache")],
        # 401: wrong credentials; 404: tokens come from an external identity provider; 429: throttled
        responses=problem_responses(*INPUT, 401, 404, 429, *DATABASE),
    )
    async def login(
        self,
        request: Request[Any, Any, Any],
        data: LoginRequest,
        db_session: AsyncSession,
        gateway_settings: GatewaySettings,
    ) -> AccessToken:
        data = await strictly(request, data)
        if not can_issue_tokens(gateway_settings):
            raise NotFoundError("Tokens are issued by the external identity provider.")
        client = request.client.host if request.client else None
        try:
            token = await services.login(
                db_session, gateway_settings, email=data.email, password=data.password, client_address=client
            )
        except TooManyRequestsError:
            LOGINS.labels("throttled").inc()
            raise
        except AuthenticationError:
            LOGINS.labels("refused").inc()
            raise
        LOGINS.labels("succeeded").inc()
        return token


class MeController(Controller):
    path = "/me"
    tags = ["auth"]
    guards = [requires_user]
    security = [{"BearerToken": []}]
    dependencies = {"current_user": Provide(provide_current_user, sync_to_thread=False)}

    @get("/", operation_id="me", summary="The authenticated user", responses=problem_responses(*USER))
    async def me(self, current_user: AuthUser, db_session: AsyncSession) -> Me:
        async with db_session.begin():
            user = await get_user(db_session, current_user.id)
        if user is None or not user.is_active:
            raise AuthenticationError("This account no longer exists or is disabled.")
        return Me(id=user.id, email=user.email, role=user.role)
