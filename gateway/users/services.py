"""Users: created by operators (``paygate`` command, engineer D) and read at login."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.auth.passwords import hash_password
from shared.models import USER_ROLES, User
from shared.problems import ConflictError, InvalidInputError, found

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024


def normalize_email(email: str) -> str:
    return email.strip().lower()


async def create_user(session: AsyncSession, *, email: str, password: str, role: str = "user") -> User:
    """Insert a user with an Argon2id hash. Flushes inside the caller's transaction; the caller commits.

    Raises ``InvalidInputError`` (bad email/role/password) or ``ConflictError`` (email taken).
    """
    normalized = normalize_email(email)
    if "@" not in normalized or not 3 <= len(normalized) <= 320:
        raise InvalidInputError("email must be an address of at most 320 characters")
    if role not in USER_ROLES:
        raise InvalidInputError(f"role must be one of {', '.join(USER_ROLES)}")
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise InvalidInputError(
            f"password must have {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters"
        )
    user = User(email=normalized, password_hash=hash_password(password), role=role)
    try:
        async with session.begin_nested():
            session.add(user)
            await session.flush()
    except IntegrityError:
        raise ConflictError("a user with this email exists") from None
    return user


async def get_user_by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(User.email == normalize_email(email)))


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    return await session.get(User, user_id)


async def list_users(session: AsyncSession, *, active: bool | None = None) -> Sequence[User]:
    """Every user (or only the active/disabled ones), oldest first."""
    query = select(User).order_by(User.created_at, User.email)
    if active is not None:
        query = query.where(User.is_active.is_(active))
    return (await session.scalars(query)).all()


async def set_user_active(session: AsyncSession, email: str, *, active: bool) -> tuple[User, bool]:
    """Enable or disable the user with this email; returns the user and whether anything changed.

    A disabled user cannot log in, and their unexpired tokens are refused within
    ``GATEWAY_DISABLED_USER_CHECK_SECONDS``. Flushes inside the caller's transaction; the caller
    commits. Raises ``NotFoundError`` when no user has this email.
    """
    normalized = normalize_email(email)
    user = found(
        await session.scalar(select(User).where(User.email == normalized).with_for_update()),
        f"no user with the email {normalized}",
    )
    changed = user.is_active != active
    if changed:
        user.is_active = active
        await session.flush()
    return user, changed
