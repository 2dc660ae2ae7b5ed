"""What a caller may know about itself."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from nexus.core.context import RequestContext
from nexus.core.db import noted_for_request
from nexus.core.guard import across_tenants
from nexus.identity.models import ACTIVE, Membership, Role, Tenant, User
from nexus.identity.schemas import Me, MembershipSummary
from nexus.identity.service.credentials import KEY_CALLER_FACTS, CallerFacts


async def memberships_of(session: AsyncSession, user_id: uuid.UUID) -> list[MembershipSummary]:
    """The user's active memberships in every tenant (read across tenants on purpose: only
    the asking user's own memberships are returned)."""
    with across_tenants(session):
        rows = await session.execute(
            select(Tenant.id, Tenant.slug, Tenant.name, Role.key)
            .join(Membership, Membership.tenant_id == Tenant.id)
            .join(Role, (Role.tenant_id == Membership.tenant_id) & (Role.id == Membership.role_id))
            .where(Membership.user_id == user_id, Membership.status == ACTIVE)
            .order_by(Tenant.name)
        )
        return [
            MembershipSummary(tenant_id=t, tenant_slug=s, tenant_name=n, role=r)
            for t, s, n, r in rows
        ]


async def describe_caller(session: AsyncSession, ctx: RequestContext) -> Me:
    noted = noted_for_request(session, KEY_CALLER_FACTS) if ctx.actor_type == "api_key" else None
    if isinstance(noted, CallerFacts):
        facts = noted
    else:
        # A signed-in session's lookup loaded both: the identity map answers.
        user = await session.get(User, ctx.user_id) if ctx.user_id else None
        tenant = await session.get(Tenant, ctx.tenant_id) if ctx.tenant_id else None
        facts = CallerFacts(
            email=user.email if user else None,
            name=user.name if user else None,
            mfa_enabled=bool(user and user.mfa_enabled_at),
            email_verified_at=user.email_verified_at if user else None,
            tenant_slug=tenant.slug if tenant else None,
        )
    memberships = (
        await memberships_of(session, ctx.user_id)
        if ctx.user_id and ctx.actor_type == "user"
        else []
    )
    return Me(
        actor_type=ctx.actor_type,
        user_id=ctx.user_id,
        email=facts.email,
        name=facts.name,
        tenant_id=ctx.tenant_id,
        tenant_slug=facts.tenant_slug,
        role=ctx.extra.get("role"),
        permissions=sorted(ctx.permissions),
        enabled_modules=sorted(ctx.enabled_modules),
        platform_role=ctx.platform_role,
        mfa_enabled=facts.mfa_enabled,
        email_verified_at=facts.email_verified_at,
        memberships=memberships,
    )
