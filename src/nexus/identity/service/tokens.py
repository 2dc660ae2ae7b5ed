"""Single-use, expiring tokens sent by e-mail: verify e-mail, reset or set a password, invite."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from nexus.core.db import database_of
from nexus.core.security import random_token
from nexus.core.types import utcnow
from nexus.identity.errors import InvalidToken
from nexus.identity.models import UserToken

VERIFY_EMAIL, RESET_PASSWORD, INVITATION = "verify_email", "reset_password", "invitation"
LIFETIMES = {
    VERIFY_EMAIL: dt.timedelta(days=7),
    RESET_PASSWORD: dt.timedelta(hours=2),
    INVITATION: dt.timedelta(days=7),
}
#: A password-setup link for a new owner or operator is a reset token that lives longer.
SETUP_LIFETIME = dt.timedelta(days=7)


async def issue_user_token(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    purpose: str,
    tenant_id: uuid.UUID | None = None,
    lifetime: dt.timedelta | None = None,
) -> str:
    """A new token; earlier unused tokens of the same purpose for the user (and, for a
    tenant's token such as an invitation, for the same tenant) stop working."""
    earlier = update(UserToken).where(
        UserToken.user_id == user_id,
        UserToken.purpose == purpose,
        UserToken.used_at.is_(None),
    )
    if tenant_id is not None:
        earlier = earlier.where(UserToken.tenant_id == tenant_id)
    await session.execute(earlier.values(used_at=utcnow()))
    raw = random_token()
    session.add(
        UserToken(
            user_id=user_id,
            tenant_id=tenant_id,
            purpose=purpose,
            token_hash=database_of(session).keyring.lookup_hash(raw),
            expires_at=utcnow() + (lifetime or LIFETIMES[purpose]),
        )
    )
    await session.flush()
    return raw


async def open_user_token(session: AsyncSession, raw: str, *, purpose: str) -> UserToken:
    """The token, without using it up (to show what a link is for before it is followed);
    raise `invalid_token` if unknown, used or expired."""
    token = await session.scalar(
        select(UserToken).where(
            UserToken.token_hash == database_of(session).keyring.lookup_hash(raw)
        )
    )
    if (
        token is None
        or token.purpose != purpose
        or token.used_at is not None
        or token.expires_at <= utcnow()
    ):
        raise InvalidToken()
    return token


async def consume_user_token(session: AsyncSession, raw: str, *, purpose: str) -> UserToken:
    """Mark the token used and return it; raise `invalid_token` if unknown, used or expired."""
    token = await session.scalar(
        select(UserToken)
        .where(UserToken.token_hash == database_of(session).keyring.lookup_hash(raw))
        .with_for_update()
    )
    if (
        token is None
        or token.purpose != purpose
        or token.used_at is not None
        or token.expires_at <= utcnow()
    ):
        raise InvalidToken()
    token.used_at = utcnow()
    await session.flush()
    return token
