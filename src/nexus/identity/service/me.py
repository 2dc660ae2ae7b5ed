"""The signed-in user's own account: their name, where they stand, and their sessions.

Every function here acts on the caller's own user (`ctx.user_id`) and refuses API keys
(`user_session_required`): a key has no person and no session behind it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from nexus.core.audit import record
from nexus.core.context import RequestContext
from nexus.core.errors import invalid
from nexus.core.types import utcnow
from nexus.identity.models import AuthSession, Tenant
from nexus.identity.service import credentials
from nexus.identity.service.attempts import require_user_session, signed_in_user

NAME_LENGTH = 200
#: The newest sessions shown; a person with more has signed in from scripts, not browsers.
SESSIONS_SHOWN = 100


@dataclass(frozen=True)
class OwnAccount:
    """What a person sees of their own account on their profile."""

    user_id: uuid.UUID
    email: str
    name: str
    email_verified_at: dt.datetime | None
    mfa_enabled_at: dt.datetime | None
    #: A secret is enrolled but no first code has confirmed it yet.
    mfa_pending: bool


@dataclass(frozen=True)
class OwnSession:
    """One of the caller's sign-ins that still works (console or API)."""

    id: uuid.UUID
    kind: str
    tenant_name: str | None
    created_at: dt.datetime
    last_seen_at: dt.datetime
    expires_at: dt.datetime
    user_agent: str | None
    client_address: str | None
    is_current: bool


async def describe_own_account(session: AsyncSession, ctx: RequestContext) -> OwnAccount:
    user = await signed_in_user(session, ctx)
    return OwnAccount(
        user_id=user.id,
        email=user.email,
        name=user.name,
        email_verified_at=user.email_verified_at,
        mfa_enabled_at=user.mfa_enabled_at,
        mfa_pending=user.mfa_enabled_at is None and user.mfa_secret_encrypted is not None,
    )


async def update_own_name(session: AsyncSession, ctx: RequestContext, *, name: str) -> OwnAccount:
    """Change the caller's name (surrounding spaces dropped). A blank or over-long name is a
    422 naming `body.name`; the same name changes and audits nothing."""
    user = await signed_in_user(session, ctx)
    name = name.strip()
    if not name:
        raise invalid("body.name", "Give your name", "name_required")
    if len(name) > NAME_LENGTH:
        raise invalid("body.name", f"At most {NAME_LENGTH} characters", "name_too_long")
    if name != user.name:
        user.name = name
        await session.flush()
        record(
            session,
            ctx,
            "identity.user.updated",
            target_type="user",
            target_id=user.id,
            changes=["name"],
        )
    return await describe_own_account(session, ctx)


async def list_own_sessions(session: AsyncSession, ctx: RequestContext) -> list[OwnSession]:
    """The caller's sessions that are neither revoked nor expired, most recently seen first,
    the caller's own one marked `is_current`."""
    user_id, session_id = require_user_session(ctx)
    rows = await session.execute(
        select(AuthSession, Tenant.name)
        .outerjoin(Tenant, Tenant.id == AuthSession.tenant_id)
        .where(
            AuthSession.user_id == user_id,
            AuthSession.revoked_at.is_(None),
            AuthSession.expires_at > utcnow(),
        )
        .order_by(AuthSession.last_seen_at.desc(), AuthSession.id.desc())
        .limit(SESSIONS_SHOWN)
    )
    return [
        OwnSession(
            id=row.id,
            kind=row.kind,
            tenant_name=tenant_name,
            created_at=row.created_at,
            last_seen_at=row.last_seen_at,
            expires_at=row.expires_at,
            user_agent=row.user_agent,
            client_address=row.client_address,
            is_current=row.id == session_id,
        )
        for row, tenant_name in rows
    ]


async def revoke_other_sessions(session: AsyncSession, ctx: RequestContext) -> None:
    """Sign the caller out everywhere else: every other session of theirs (console and API)
    stops working; the caller's own stays."""
    user_id, session_id = require_user_session(ctx)
    await credentials.revoke_user_sessions(
        session, user_id, reason="signed_out_elsewhere", keep=session_id
    )
    record(
        session, ctx, "identity.auth.other_sessions_revoked", target_type="user", target_id=user_id
    )
