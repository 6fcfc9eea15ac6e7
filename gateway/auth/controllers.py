"""``POST /auth/login`` and ``GET /me``."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import CacheControlHeader, ResponseHeader
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK

from gateway.auth import services
from gateway.auth.audiences import UserController
from gateway.auth.schemas import AccessToken, LoginRequest, Me
from gateway.auth.tokens import can_issue_tokens
from gateway.dependencies import CurrentUser, DbSession, Settings, strictly
from gateway.metrics.definitions import LOGINS
from gateway.openapi import DATABASE, INPUT, USER
from gateway.users.services import get_user
from shared.operations import operation
from shared.problems import AuthenticationError, NotFoundError, TooManyRequestsError


class AuthController(Controller):
    path = "/auth"
    tags = ["auth"]

    # a token must not be kept by a browser, a proxy or a CDN (RFC 6749 section 5.1)
    # 401: wrong credentials; 404: tokens come from an external identity provider; 429: throttled
    @operation(
        post,
        "/login",
        "login",
        (*INPUT, 401, 404, 429, *DATABASE),
        status_code=HTTP_200_OK,
        cache_control=CacheControlHeader(no_store=True),
        response_headers=[ResponseHeader(name="Pragma", value="no-cache")],
    )
    async def login(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[LoginRequest],
        db_session: DbSession,
        gateway_settings: Settings,
    ) -> AccessToken:
        """Exchange email and password for a short-lived access token"""
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


class MeController(UserController):
    path = "/me"
    tags = ["auth"]

    @operation(get, "/", "me", USER)
    async def me(self, current_user: CurrentUser, db_session: DbSession) -> Me:
        """The authenticated user"""
        async with db_session.begin():
            user = await get_user(db_session, current_user.id)
        if user is None or not user.is_active:
            raise AuthenticationError("This account no longer exists or is disabled.")
        return Me(id=user.id, email=user.email, role=user.role)
