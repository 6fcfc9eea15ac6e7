"""Users: created by operators (``paygate`` command, engineer D) and read at login."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.auth.passwords import hash_password
from shared.models import USER_ROLES, User
from shared.problems import ConflictError, InvalidInputError

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
