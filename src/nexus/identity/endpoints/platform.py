"""`/api/v1/platform/tenants`: the businesses on this NEXUS, for platform operators."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from nexus.core.context import RequestContext
from nexus.core.http import NexusRoute, Session, problems, require_operator
from nexus.identity.schemas.platform import PlatformTenant, PlatformTenantDetail, TenantSuspension
from nexus.identity.schemas.team import Page, SearchText
from nexus.identity.service import operators

router = APIRouter(route_class=NexusRoute, prefix="/api/v1/platform/tenants", tags=["platform"])

Operator = Annotated[RequestContext, require_operator()]


@router.get("", response_model=Page[PlatformTenant], summary="List businesses, newest first")
async def list(
    session: Session,
    ctx: Operator,
    search: Annotated[SearchText | None, Query(description="In name or slug")] = None,
    status: Literal["active", "suspended"] | None = None,
    limit: Annotated[int, Query(ge=1, le=200, description="Items per page")] = 50,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page")] = None,
) -> Page[PlatformTenant]:
    page = await operators.list_tenant_summaries(
        session, search=search, status=status, limit=limit, cursor=cursor
    )
    return Page(items=[*page.items], next_cursor=page.next_cursor)


@router.get("/{tenant_id}", response_model=PlatformTenantDetail, summary="A business")
async def get(session: Session, ctx: Operator, tenant_id: uuid.UUID) -> PlatformTenantDetail:
    return await operators.describe_tenant(session, tenant_id)


@router.post(
    "/{tenant_id}/suspend",
    response_model=PlatformTenantDetail,
    summary="Suspend a business: its credentials get 403 tenant_suspended",
    responses=problems(409),
)
async def suspend(
    session: Session, ctx: Operator, tenant_id: uuid.UUID, body: TenantSuspension
) -> PlatformTenantDetail:
    await operators.suspend_tenant(session, ctx, tenant_id, reason=body.reason)
    return await operators.describe_tenant(session, tenant_id)


@router.post(
    "/{tenant_id}/reactivate",
    response_model=PlatformTenantDetail,
    summary="Lift a business's suspension",
    responses=problems(409),
)
async def reactivate(session: Session, ctx: Operator, tenant_id: uuid.UUID) -> PlatformTenantDetail:
    await operators.reactivate_tenant(session, ctx, tenant_id)
    return await operators.describe_tenant(session, tenant_id)
