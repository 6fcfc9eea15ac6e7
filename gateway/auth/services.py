"""Login: Argon2id check, throttled so that a stranger cannot lock the owner out (OWASP Authentication
Cheat Sheet). Three counters per attempt, keyed on the normalised email and the client address
(proxy-aware, ``shared.proxies``):

- the account from this address: after ``login_max_failures_per_account_address`` failures this
  address is locked out of this account, and of nothing else;
- this address, whatever the account: after ``login_max_failures_per_address`` failures it is locked out;
- the account, from every address: past ``login_account_slowdown_after`` failures (a distributed
  guess) each address that fails on it must wait ``login_slowdown_seconds``, doubled per failure,
  before it tries again. An address that has not failed on the account is never slowed or refused,
  so the owner logging in from their own address always gets their password checked.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass

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
MAX_CLIENT_KEY = 64  # an address, IPv6 included; never longer than the key column allows


@dataclass(frozen=True, slots=True)
class ThrottleKeys:
    account: str  # every address's failures on this account
    address: str  # this address's failures on every account
    account_address: str  # this address's failures on this account
    slowdown: str  # when this address may try this account again

    @classmethod
    def of(cls, email: str, client_address: str | None) -> ThrottleKeys:
        account = normalize_email(email)
        address = (client_address or "unknown")[:MAX_CLIENT_KEY]
        return cls(
            account=f"account:{account}",
            address=f"ip:{address}",
            account_address=f"pair:{address}|{account}",
            slowdown=f"slow:{address}|{account}",
        )


def _too_many(retry_after: int) -> TooManyRequestsError:
    return TooManyRequestsError(
        "Too many failed logins from this address; try again later.",
        headers={"Retry-After": str(retry_after)},
    )


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

    One answer for an unknown email, a wrong password and a disabled account (same work, too).
    Attempts are counted BEFORE the password is checked (and given back on success), so concurrent
    guesses cannot get past a limit."""
    keys = ThrottleKeys.of(email, client_address)
    lockout = settings.login_lockout_seconds
    count = functools.partial(
        repositories.count_attempt,
        session,
        window_seconds=settings.login_window_seconds,
        lockout_seconds=lockout,
    )
    async with session.begin():
        _, address_lock = await count(keys.address, max_failures=settings.login_max_failures_per_address)
        pair_failures, pair_lock = await count(
            keys.account_address, max_failures=settings.login_max_failures_per_account_address
        )
        slowed = await repositories.waiting_for(session, keys.slowdown)
        account_failures = 0
        refused = max((lock for lock in (address_lock, pair_lock, slowed) if lock is not None), default=None)
        if refused is None:  # only attempts whose password is checked count against the account
            account_failures, _ = await count(keys.account, max_failures=None)
    if refused is not None:
        raise _too_many(refused)

    async with session.begin():  # ended before the slow hash check: no connection held meanwhile
        user = await get_user_by_email(session, email)
    password_hash = user.password_hash if user is not None else None
    valid = await asyncio.to_thread(verify_password, password_hash, password)
    if not valid or user is None or not user.is_active:
        if account_failures >= settings.login_account_slowdown_after:
            doubled = 2 ** min(pair_failures - 1, 20)
            wait = min(settings.login_slowdown_seconds * doubled, lockout)
            async with session.begin():
                await repositories.wait_until(session, keys.slowdown, wait)
        raise AuthenticationError(BAD_CREDENTIALS)

    async with session.begin():
        await repositories.forget(session, keys.account_address)
        await repositories.forget(session, keys.slowdown)
        await repositories.give_back_attempt(session, keys.address)
        await repositories.give_back_attempt(session, keys.account)
    return user
