"""The team of a business: members (invite, change role, deactivate) and its audit log.

Memberships are a platform table, so every query here names the caller's tenant; roles are a
tenant table, reached with the tenant bound to the session.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from nexus.core.audit import AuditEvent, record
from nexus.core.concurrency import check_version, expected_version
from nexus.core.context import RequestContext
from nexus.core.errors import TenantContextMissing, invalid
from nexus.core.mail import send_mail
from nexus.core.pagination import paginate
from nexus.core.types import utcnow
from nexus.identity.errors import (
    AlreadyMember,
    CannotDeactivateSelf,
    InvalidMemberStatus,
    LastOwner,
    OwnerRequired,
    UserNotFound,
)
from nexus.identity.models import (
    ACTIVE,
    DEACTIVATED,
    INVITED,
    AuthSession,
    Membership,
    Role,
    Tenant,
    User,
    UserToken,
)
from nexus.identity.permissions import OWNER_ROLE
from nexus.identity.schemas import team as schemas
from nexus.identity.service import tokens, users


def tenant_of(ctx: RequestContext) -> uuid.UUID:
    """The caller's tenant; the routes that reach here always have one."""
    if ctx.tenant_id is None:
        raise TenantContextMissing("a tenant is required here")
    return ctx.tenant_id


def _view(membership: Membership, user: User, role: Role) -> schemas.Member:
    return schemas.Member(
        user_id=user.id,
        email=user.email,
        name=user.name,
        role=role.key,
        status=membership.status,  # type: ignore[arg-type]
        joined_at=membership.created_at,
        version=membership.version,
    )


async def _membership(session: AsyncSession, ctx: RequestContext, user_id: uuid.UUID) -> Membership:
    membership = await session.scalar(
        select(Membership).where(
            Membership.tenant_id == tenant_of(ctx), Membership.user_id == user_id
        )
    )
    if membership is None:
        raise UserNotFound()
    return membership


async def _role_by_id(session: AsyncSession, role_id: uuid.UUID) -> Role:
    return (await session.scalars(select(Role).where(Role.id == role_id))).one()


async def role_by_key(session: AsyncSession, key: str, *, field: str) -> Role:
    role = await session.scalar(select(Role).where(Role.key == key))
    if role is None:
        raise invalid(field, f"No role with the key {key!r}", "unknown_role")
    return role


async def _member(session: AsyncSession, membership: Membership) -> schemas.Member:
    user = (await session.scalars(select(User).where(User.id == membership.user_id))).one()
    return _view(membership, user, await _role_by_id(session, membership.role_id))


async def caller_is_owner(session: AsyncSession, ctx: RequestContext) -> bool:
    """An owner acting with full powers: NEXUS itself, or a credential holding `*` whose user is
    an active owner here (an owner's narrowly scoped API key is not)."""
    if ctx.actor_type == "system":
        return True
    if ctx.user_id is None or not ctx.can("*"):
        return False
    key = await session.scalar(
        select(Role.key)
        .join(
            Membership, (Membership.tenant_id == Role.tenant_id) & (Membership.role_id == Role.id)
        )
        .where(
            Membership.tenant_id == tenant_of(ctx),
            Membership.user_id == ctx.user_id,
            Membership.status == ACTIVE,
        )
    )
    return key == OWNER_ROLE


async def _keep_an_owner(session: AsyncSession, ctx: RequestContext, leaving: Membership) -> None:
    """Refuse to take away the last active owner (owners' rows locked, in id order)."""
    owners = await session.scalars(
        select(Membership.id)
        .join(Role, (Role.tenant_id == Membership.tenant_id) & (Role.id == Membership.role_id))
        .where(
            Membership.tenant_id == tenant_of(ctx),
            Membership.status == ACTIVE,
            Role.key == OWNER_ROLE,
        )
        .order_by(Membership.id)
        .with_for_update(of=Membership)
    )
    if set(owners.all()) <= {leaving.id}:
        raise LastOwner(detail="Make someone else an owner first")


async def _check_owner_change(session: AsyncSession, ctx: RequestContext, *role_keys: str) -> None:
    if OWNER_ROLE in role_keys and not await caller_is_owner(session, ctx):
        raise OwnerRequired()


# --- reading -------------------------------------------------------------------------------


def _members_query(
    ctx: RequestContext, *, search: str | None, status: str | None, role: str | None
) -> Select[Membership]:
    statement = (
        select(Membership)
        .join(User, User.id == Membership.user_id)
        .where(Membership.tenant_id == tenant_of(ctx))
    )
    if search:
        term = search.strip().lower()
        statement = statement.where(
            or_(
                func.lower(User.name).contains(term, autoescape=True),
                func.lower(User.email).contains(term, autoescape=True),
            )
        )
    if status:
        statement = statement.where(Membership.status == status)
    if role:
        statement = statement.join(
            Role, (Role.tenant_id == Membership.tenant_id) & (Role.id == Membership.role_id)
        ).where(Role.key == role)
    return statement


async def list_members(
    session: AsyncSession,
    ctx: RequestContext,
    *,
    search: str | None = None,
    status: str | None = None,
    role: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> schemas.Page[schemas.Member]:
    """Members in the order they joined; three queries whatever the page size."""
    page = await paginate(
        session,
        _members_query(ctx, search=search, status=status, role=role),
        sort=Membership.created_at,
        id_column=Membership.id,
        limit=limit,
        cursor=cursor,
    )
    user_ids = [m.user_id for m in page.items]
    people = {u.id: u for u in await session.scalars(select(User).where(User.id.in_(user_ids)))}
    role_ids = {m.role_id for m in page.items}
    roles = {r.id: r for r in await session.scalars(select(Role).where(Role.id.in_(role_ids)))}
    items = [_view(m, people[m.user_id], roles[m.role_id]) for m in page.items]
    return schemas.Page(items=items, next_cursor=page.next_cursor)


async def count_members(session: AsyncSession, ctx: RequestContext) -> dict[str, int]:
    """How many members the business has, by status (`active`, `invited`, `deactivated`)."""
    rows = await session.execute(
        select(Membership.status, func.count())
        .where(Membership.tenant_id == tenant_of(ctx))
        .group_by(Membership.status)
    )
    return {status: count for status, count in rows}


async def get_member(
    session: AsyncSession, ctx: RequestContext, user_id: uuid.UUID
) -> schemas.Member:
    return await _member(session, await _membership(session, ctx, user_id))


# --- inviting ------------------------------------------------------------------------------


async def send_invitation(
    session: AsyncSession, ctx: RequestContext, user: User, *, public_base_url: str
) -> None:
    tenant = (await session.scalars(select(Tenant).where(Tenant.id == tenant_of(ctx)))).one()
    token = await tokens.issue_user_token(
        session, user_id=user.id, purpose=tokens.INVITATION, tenant_id=tenant.id
    )
    url = f"{public_base_url}/accept-invitation?token={token}"
    send_mail(
        session,
        to=user.email,
        subject=f"You are invited to join {tenant.name} on NEXUS",
        text=(
            f"Hello{' ' + user.name if user.name else ''},\n\n"
            f"You have been invited to join {tenant.name} on NEXUS.\n\n"
            f"Accept the invitation: {url}\n\n"
            "The link works for 7 days. If you did not expect this, ignore this message.\n"
        ),
    )


async def invite_member(
    session: AsyncSession,
    ctx: RequestContext,
    *,
    email: str,
    role: str,
    name: str | None,
    public_base_url: str,
) -> schemas.Member:
    """Invite a person (a new user without a password, or an existing one) with a role; the
    membership stays `invited` until they accept the e-mailed link."""
    role_row = await role_by_key(session, role, field="body.role")
    await _check_owner_change(session, ctx, role_row.key)
    user = await users.find_user_by_email(session, email)
    if user is None:
        user = await users.create_user(session, email=email, name=name or "")
    elif await session.scalar(
        select(Membership.id).where(
            Membership.tenant_id == tenant_of(ctx), Membership.user_id == user.id
        )
    ):
        raise AlreadyMember(detail=f"{user.email} is already a member (any status)")
    membership = Membership(
        tenant_id=tenant_of(ctx),
        user_id=user.id,
        role_id=role_row.id,
        status=INVITED,
        invited_by=ctx.user_id,
    )
    session.add(membership)
    await session.flush()
    await send_invitation(session, ctx, user, public_base_url=public_base_url)
    record(
        session,
        ctx,
        "identity.user.invited",
        target_type="user",
        target_id=user.id,
        changes=["role", "status"],
    )
    return _view(membership, user, role_row)


async def resend_invitation(
    session: AsyncSession, ctx: RequestContext, user_id: uuid.UUID, *, public_base_url: str
) -> schemas.Member:
    """A fresh invitation link; the earlier one stops working."""
    membership = await _membership(session, ctx, user_id)
    if membership.status != INVITED:
        raise InvalidMemberStatus(detail="Only an invited member can be sent the invitation")
    user = (await session.scalars(select(User).where(User.id == user_id))).one()
    await send_invitation(session, ctx, user, public_base_url=public_base_url)
    record(session, ctx, "identity.user.invitation_resent", target_type="user", target_id=user_id)
    return await _member(session, membership)


# --- changing ------------------------------------------------------------------------------


async def update_member(
    session: AsyncSession,
    ctx: RequestContext,
    user_id: uuid.UUID,
    *,
    role: str | None,
    name: str | None,
    version: int | None,
    if_match: str | None = None,
) -> schemas.Member:
    """Change a member's role or name. Only an owner makes or unmakes an owner, and the last
    active owner keeps the role."""
    membership = await _membership(session, ctx, user_id)
    check_version(membership.version, expected_version(version, if_match))
    current = await _role_by_id(session, membership.role_id)
    user = (await session.scalars(select(User).where(User.id == user_id))).one()
    changed = []
    if role is not None and role != current.key:
        new_role = await role_by_key(session, role, field="body.role")
        await _check_owner_change(session, ctx, current.key, new_role.key)
        if current.key == OWNER_ROLE and membership.status == ACTIVE:
            await _keep_an_owner(session, ctx, membership)
        membership.role_id = new_role.id
        changed.append("role")
    if name is not None and name != user.name:
        user.name = name
        changed.append("name")
    if changed:
        membership.updated_at = utcnow()
        await session.flush()
        record(
            session,
            ctx,
            "identity.user.updated",
            target_type="user",
            target_id=user_id,
            changes=changed,
        )
    return await _member(session, membership)


async def deactivate_member(
    session: AsyncSession, ctx: RequestContext, user_id: uuid.UUID
) -> schemas.Member:
    """Deactivate a member and end their sessions and pending invitation in this business."""
    if user_id == ctx.user_id:
        raise CannotDeactivateSelf()
    membership = await _membership(session, ctx, user_id)
    if membership.status == DEACTIVATED:
        raise InvalidMemberStatus(detail="The member is already deactivated")
    role = await _role_by_id(session, membership.role_id)
    await _check_owner_change(session, ctx, role.key)
    if role.key == OWNER_ROLE and membership.status == ACTIVE:
        await _keep_an_owner(session, ctx, membership)
    membership.status = DEACTIVATED
    await _end_access(session, user_id, tenant_of(ctx))
    await session.flush()
    record(
        session,
        ctx,
        "identity.user.deactivated",
        target_type="user",
        target_id=user_id,
        changes=["status"],
    )
    return await _member(session, membership)


async def _end_access(session: AsyncSession, user_id: uuid.UUID, tenant_id: uuid.UUID) -> None:
    now = utcnow()
    await session.execute(
        update(AuthSession)
        .where(
            AuthSession.user_id == user_id,
            AuthSession.tenant_id == tenant_id,
            AuthSession.revoked_at.is_(None),
        )
        .values(revoked_at=now, revoked_reason="deactivated")
    )
    await session.execute(
        update(UserToken)
        .where(
            UserToken.user_id == user_id,
            UserToken.tenant_id == tenant_id,
            UserToken.purpose == tokens.INVITATION,
            UserToken.used_at.is_(None),
        )
        .values(used_at=now)
    )


async def reactivate_member(
    session: AsyncSession, ctx: RequestContext, user_id: uuid.UUID
) -> schemas.Member:
    """A deactivated member becomes active again (they sign in anew)."""
    membership = await _membership(session, ctx, user_id)
    if membership.status != DEACTIVATED:
        raise InvalidMemberStatus(detail="Only a deactivated member can be reactivated")
    role = await _role_by_id(session, membership.role_id)
    await _check_owner_change(session, ctx, role.key)
    membership.status = ACTIVE
    await session.flush()
    record(
        session,
        ctx,
        "identity.user.reactivated",
        target_type="user",
        target_id=user_id,
        changes=["status"],
    )
    return await _member(session, membership)


# --- the audit log -------------------------------------------------------------------------


async def list_audit_events(
    session: AsyncSession,
    ctx: RequestContext,
    *,
    actor_id: uuid.UUID | None = None,
    action: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> schemas.Page[schemas.AuditEvent]:
    """This business's audit events, newest first. `action` is exact, or a prefix when it
    ends with `*` (`identity.user.*`)."""
    statement = select(AuditEvent).where(AuditEvent.tenant_id == tenant_of(ctx))
    if actor_id is not None:
        statement = statement.where(AuditEvent.actor_id == actor_id)
    if action and action.endswith("*"):
        statement = statement.where(AuditEvent.action.startswith(action[:-1], autoescape=True))
    elif action:
        statement = statement.where(AuditEvent.action == action)
    if since is not None:
        statement = statement.where(AuditEvent.occurred_at >= since)
    if until is not None:
        statement = statement.where(AuditEvent.occurred_at < until)
    page = await paginate(
        session,
        statement,
        sort=AuditEvent.occurred_at,
        id_column=AuditEvent.id,
        limit=limit,
        cursor=cursor,
        descending=True,
    )
    items = [schemas.AuditEvent.model_validate(event) for event in page.items]
    return schemas.Page(items=items, next_cursor=page.next_cursor)
