"""Login: Argon2id check, throttled per account and per client address."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.auth import repositories
from gateway.auth.passwords import verify_password
from gateway.auth.schemas import AccessToken
from gateway.auth.tokens import issue_access_token
from gateway.settings import GatewaySettings
from gateway.users.services import get_user_by_email, normalize_email
from shared.models import User
from shared.problems import AuthenticationError, TooManyRequestsError

BAD_CREDENTIALS = "Email or password is incorrect."


def throttle_keys(email: str, client_address: str | None) -> tuple[str, str]:
    return f"account:{normalize_email(email)}", f"ip:{client_address or 'unknown'}"


async def login(
    session: AsyncSession,
    settings: GatewaySettings,
    *,
    email: str,
    password: str,
    client_address: str | None,
) -> AccessToken:
    user = await authenticate(
        session, settings, email=email, password=password, client_address=client_address
    )
    token = issue_access_token(settings, user_id=user.id, email=user.email, role=user.role)
    return AccessToken(access_token=token, expires_in=settings.jwt_ttl_seconds)


async def authenticate(
    session: AsyncSession,
    settings: GatewaySettings,
    *,
    email: str,
    password: str,
    client_address: str | None,
) -> User:
    """The active user with this email and password (the API's login and the console's sign-in).

    One answer for an unknown email, a wrong password and a disabled account (same work, too)."""
    account_key, address_key = throttle_keys(email, client_address)
    window, lockout = settings.login_window_seconds, settings.login_lockout_seconds
    async with session.begin():
        locks = [
            await repositories.count_attempt(
                session, key, max_failures=limit, window_seconds=window, lockout_seconds=lockout
            )
            for key, limit in (
                (account_key, settings.login_max_failures_per_account),
                (address_key, settings.login_max_failures_per_address),
            )
        ]
    retry_after = max((lock for lock in locks if lock is not None), default=None)
    if retry_after is not None:
        raise TooManyRequestsError(
            "Too many failed logins; try again later.", headers={"Retry-After": str(retry_after)}
        )

    async with session.begin():  # ended before the slow hash check: no connection held meanwhile
        user = await get_user_by_email(session, email)
    password_hash = user.password_hash if user is not None else None
    valid = await asyncio.to_thread(verify_password, password_hash, password)
    if not valid or user is None or not user.is_active:
        raise AuthenticationError(BAD_CREDENTIALS)

    async with session.begin():
        await repositories.forget(session, account_key)
        await repositories.give_back_attempt(session, address_key)
    return user
