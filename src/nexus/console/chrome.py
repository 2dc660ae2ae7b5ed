"""What the layout shows of the caller on every page: who they are, the business they are in
(its name and timezone) and the businesses they may switch to."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from nexus.core.context import RequestContext
from nexus.identity.service import profile, tenant_profile


async def of(session: AsyncSession, ctx: RequestContext) -> dict[str, Any]:
    me = await profile.describe_caller(session, ctx)
    tenant = await tenant_profile.get_profile(session, ctx) if ctx.tenant_id else None
    return {"user": me, "tenant": tenant, "tenants": me.memberships}
