"""Users: creation and lookup (platform table; e-mails compared case-insensitively)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from nexus.core.security import hash_password
from nexus.identity.models import User
from nexus.identity.service.passwords import check_password


def normalise_email(email: str) -> str:
    return email.strip().casefold()


async def find_user_by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(User.email == normalise_email(email)))


async def create_user(
    session: AsyncSession,
    *,
    email: str,
    name: str = "",
    password: str | None = None,
    platform_role: str | None = None,
    password_field: str = "body.password",
) -> User:
    """A new user; without a password it can only sign in after a setup or reset link."""
    email = normalise_email(email)
    password_hash = None
    if password is not None:
        check_password(password, email=email, field=password_field)
        password_hash = await hash_password(password)
    user = User(email=email, name=name, password_hash=password_hash, platform_role=platform_role)
    session.add(user)
    await session.flush()
    return user
