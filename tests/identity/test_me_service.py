"""The signed-in user's own account: name, sessions, signing out elsewhere."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from nexus.core.audit import AuditEvent
from nexus.core.context import RequestContext
from nexus.core.errors import ValidationFailed
from nexus.core.types import utcnow
from nexus.identity.errors import UserSessionRequired
from nexus.identity.models import AuthSession, User
from nexus.identity.service import credentials, me, users
from tests.identity.factories import PASSWORD, unique


async def new_user(session: AsyncSession) -> User:
    email = f"{unique('me')}@example.com"
    return await users.create_user(session, email=email, name="Ada", password=PASSWORD)


async def console_session(session: AsyncSession, user: User, address: str) -> AuthSession:
    _, auth_session = await credentials.start_console_session(
        session,
        user_id=user.id,
        tenant_id=None,
        hours=8,
        user_agent="Firefox",
        client_address=address,
    )
    return auth_session


def caller(user: User, session_id: uuid.UUID | None) -> RequestContext:
    return RequestContext(
        tenant_id=None, actor_type="user", actor_id=user.id, user_id=user.id, session_id=session_id
    )


async def actions(session: AsyncSession, user: User) -> list[tuple[str, list[str]]]:
    rows = await session.execute(
        select(AuditEvent.action, AuditEvent.changes)
        .where(AuditEvent.target_id == str(user.id))
        .order_by(AuditEvent.occurred_at)
    )
    return [(action, changes) for action, changes in rows]


async def test_lists_only_the_callers_live_sessions_marking_the_current_one(
    session: AsyncSession,
) -> None:
    user, someone_else = await new_user(session), await new_user(session)
    current = await console_session(session, user, "203.0.113.1")
    other = await console_session(session, user, "203.0.113.2")
    api = await credentials.issue_tokens(
        session, user_id=user.id, tenant_id=None, access_minutes=15, refresh_days=30
    )
    revoked = await console_session(session, user, "203.0.113.3")
    expired = await console_session(session, user, "203.0.113.4")
    await console_session(session, someone_else, "203.0.113.5")
    await session.execute(
        update(AuthSession).where(AuthSession.id == revoked.id).values(revoked_at=utcnow())
    )
    await session.execute(
        update(AuthSession)
        .where(AuthSession.id == expired.id)
        .values(expires_at=utcnow() - dt.timedelta(minutes=1))
    )

    listed = await me.list_own_sessions(session, caller(user, current.id))

    assert {s.id for s in listed} == {current.id, other.id, api.session_id}
    assert [s.id for s in listed if s.is_current] == [current.id]
    assert {s.kind for s in listed} == {"console", "api"}
    by_id = {s.id: s for s in listed}
    assert by_id[other.id].client_address == "203.0.113.2"
    assert by_id[other.id].user_agent == "Firefox"
    assert by_id[other.id].tenant_name is None


async def test_revoking_the_other_sessions_keeps_the_callers_and_is_audited(
    session: AsyncSession,
) -> None:
    user, someone_else = await new_user(session), await new_user(session)
    current = await console_session(session, user, "203.0.113.1")
    other = await console_session(session, user, "203.0.113.2")
    api = await credentials.issue_tokens(
        session, user_id=user.id, tenant_id=None, access_minutes=15, refresh_days=30
    )
    theirs = await console_session(session, someone_else, "203.0.113.5")
    ctx = caller(user, current.id)

    await me.revoke_other_sessions(session, ctx)

    assert [s.id for s in await me.list_own_sessions(session, ctx)] == [current.id]
    reasons = dict(
        (
            await session.execute(
                select(AuthSession.id, AuthSession.revoked_reason).where(
                    AuthSession.id.in_([current.id, other.id, api.session_id, theirs.id])
                )
            )
        ).all()
    )
    assert reasons == {
        current.id: None,
        other.id: "signed_out_elsewhere",
        api.session_id: "signed_out_elsewhere",
        theirs.id: None,
    }
    assert await actions(session, user) == [("identity.auth.other_sessions_revoked", [])]


async def test_updating_the_own_name_trims_it_and_audits_the_change(
    session: AsyncSession,
) -> None:
    user = await new_user(session)
    ctx = caller(user, (await console_session(session, user, "203.0.113.1")).id)

    account = await me.update_own_name(session, ctx, name="  Ada Lovelace ")

    assert account.name == "Ada Lovelace"
    assert user.name == "Ada Lovelace"
    assert await actions(session, user) == [("identity.user.updated", ["name"])]


async def test_the_same_name_changes_nothing(session: AsyncSession) -> None:
    user = await new_user(session)
    ctx = caller(user, (await console_session(session, user, "203.0.113.1")).id)

    await me.update_own_name(session, ctx, name="Ada")

    assert await actions(session, user) == []


@pytest.mark.parametrize(("name", "code"), [("   ", "name_required"), ("x" * 201, "name_too_long")])
async def test_a_blank_or_long_name_is_refused_naming_the_field(
    session: AsyncSession, name: str, code: str
) -> None:
    user = await new_user(session)
    ctx = caller(user, (await console_session(session, user, "203.0.113.1")).id)

    with pytest.raises(ValidationFailed) as refused:
        await me.update_own_name(session, ctx, name=name)

    assert [(e.field, e.code) for e in refused.value.errors] == [("body.name", code)]
    assert user.name == "Ada"
    assert await actions(session, user) == []


async def test_an_api_key_has_no_own_account(session: AsyncSession) -> None:
    key = RequestContext(tenant_id=uuid.uuid4(), actor_type="api_key", actor_id=uuid.uuid4())

    with pytest.raises(UserSessionRequired):
        await me.list_own_sessions(session, key)
    with pytest.raises(UserSessionRequired):
        await me.revoke_other_sessions(session, key)
    with pytest.raises(UserSessionRequired):
        await me.update_own_name(session, key, name="Key")
