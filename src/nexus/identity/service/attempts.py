"""Attempts to prove who one is: where a request comes from, the failure throttle (per
account and per client address), and refusing an attempt so that it still counts."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import NoReturn

from sqlalchemy.ext.asyncio import AsyncSession

from nexus.core import ratelimit
from nexus.core.audit import record_committed
from nexus.core.context import RequestContext
from nexus.core.db import database_of
from nexus.core.errors import NexusError, TooManyRequests
from nexus.identity.errors import UserSessionRequired
from nexus.identity.models import User

LOGIN_WINDOW = dt.timedelta(minutes=15)
ACCOUNT_LIMIT, ADDRESS_LIMIT = 5, 30


@dataclass(frozen=True)
class Origin:
    """Where a request comes from, and the token lifetimes this deployment grants."""

    client_address: str
    user_agent: str | None
    request_id: str | None
    access_minutes: int
    refresh_days: int
    #: Set for the console: a sign-in then starts a console session of this many hours
    #: (a cookie) instead of an API token pair.
    console_hours: int | None = None

    def context(
        self, *, user_id: uuid.UUID | None = None, tenant_id: uuid.UUID | None = None
    ) -> RequestContext:
        """The acting user of a request that has no credential yet (a sign-in)."""
        return RequestContext(
            tenant_id=tenant_id,
            actor_type="user",
            actor_id=user_id,
            user_id=user_id,
            request_id=self.request_id,
            client_address=self.client_address,
        )


@dataclass(frozen=True)
class Throttle:
    """The counters (key, limit) one attempt is checked against and counted in."""

    keys: tuple[tuple[str, int], ...]
    window: dt.timedelta = LOGIN_WINDOW

    @classmethod
    def for_sign_in(cls, email: str, client_address: str) -> Throttle:
        return cls(
            (
                (f"login:account:{email}", ACCOUNT_LIMIT),
                (f"login:ip:{client_address}", ADDRESS_LIMIT),
            )
        )

    async def check(self, session: AsyncSession) -> None:
        """Raise 429 (with `Retry-After`) when any counter is at its limit."""
        waits = [
            await ratelimit.retry_after(session, key, limit=limit, window=self.window)
            for key, limit in self.keys
        ]
        longest = max((wait for wait in waits if wait is not None), default=None)
        if longest is not None:
            raise TooManyRequests(
                detail=f"Too many attempts; try again in {longest} seconds",
                headers={"Retry-After": str(longest)},
            )

    async def count(self, session: AsyncSession) -> None:
        for key, _ in self.keys:
            await ratelimit.count_hit(database_of(session), key, window=self.window)


async def refuse_sign_in(
    session: AsyncSession,
    origin: Origin,
    throttle: Throttle,
    error: NexusError,
    *,
    user_id: uuid.UUID | None,
    action: str = "identity.auth.login_failed",
) -> NoReturn:
    """Count and audit a failed attempt in their own transactions, then raise `error`.

    The request's transaction ends first: it is refused anyway, and on SQLite it holds the one
    write lock those transactions need.
    """
    await session.rollback()
    await throttle.count(session)
    await record_committed(
        database_of(session),
        origin.context(user_id=user_id),
        action,
        target_type="user" if user_id else None,
        target_id=user_id,
    )
    raise error


def require_user_session(ctx: RequestContext) -> tuple[uuid.UUID, uuid.UUID]:
    """The user and session of a signed-in user; API keys have neither."""
    if ctx.actor_type != "user" or ctx.user_id is None or ctx.session_id is None:
        raise UserSessionRequired(detail="API keys cannot do this; use a user's access token")
    return ctx.user_id, ctx.session_id


async def signed_in_user(session: AsyncSession, ctx: RequestContext) -> User:
    """The caller's own user row; refuses API keys (`user_session_required`)."""
    user_id, _ = require_user_session(ctx)
    user = await session.get(User, user_id)
    assert user is not None, "the caller was resolved from this user"
    return user
