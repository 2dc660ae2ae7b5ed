"""`/api/v1/identity/tenant`, `/branches` and `/integrations`: the business's own profile."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response

from nexus.core.context import RequestContext
from nexus.core.http import NexusRoute, Session, problems, require
from nexus.identity.schemas.team import (
    Branch,
    BranchCreate,
    BranchUpdate,
    Integration,
    Page,
    TenantProfile,
    TenantProfileUpdate,
)
from nexus.identity.service import tenant_profile

router = APIRouter(route_class=NexusRoute, prefix="/api/v1/identity", tags=["business"])

Reader = Annotated[RequestContext, require("identity.tenant.read")]
Updater = Annotated[RequestContext, require("identity.tenant.update")]
Limit = Annotated[int, Query(ge=1, le=200, description="Items per page")]
Cursor = Annotated[str | None, Query(description="`next_cursor` of the previous page")]
IfMatch = Annotated[str | None, Header(description='The version being updated, e.g. "3"')]


@router.get("/tenant", response_model=TenantProfile, summary="The business profile")
async def get(session: Session, ctx: Reader) -> TenantProfile:
    return await tenant_profile.get_profile(session, ctx)


@router.patch(
    "/tenant",
    response_model=TenantProfile,
    summary="Change the business profile",
    responses=problems(412, 422, 428),
)
async def update(
    session: Session, ctx: Updater, body: TenantProfileUpdate, if_match: IfMatch = None
) -> TenantProfile:
    return await tenant_profile.update_profile(session, ctx, body, if_match=if_match)


@router.get("/branches", response_model=Page[Branch], summary="List the branches")
async def list_branches(
    session: Session, ctx: Reader, limit: Limit = 50, cursor: Cursor = None
) -> Page[Branch]:
    return await tenant_profile.list_branches(session, limit=limit, cursor=cursor)


@router.post(
    "/branches",
    response_model=Branch,
    status_code=201,
    summary="Add a branch",
    responses=problems(409, 422),
)
async def create_branch(session: Session, ctx: Updater, body: BranchCreate) -> Branch:
    return await tenant_profile.create_branch(session, ctx, body)


@router.get("/branches/{branch_id}", response_model=Branch, summary="A branch")
async def get_branch(session: Session, ctx: Reader, branch_id: uuid.UUID) -> Branch:
    return await tenant_profile.get_branch(session, branch_id)


@router.patch(
    "/branches/{branch_id}",
    response_model=Branch,
    summary="Change a branch",
    responses=problems(409, 412, 422, 428),
)
async def update_branch(
    session: Session,
    ctx: Updater,
    branch_id: uuid.UUID,
    body: BranchUpdate,
    if_match: IfMatch = None,
) -> Branch:
    return await tenant_profile.update_branch(session, ctx, branch_id, body, if_match=if_match)


@router.delete(
    "/branches/{branch_id}",
    status_code=204,
    response_class=Response,
    summary="Delete a branch (its code stays reserved)",
)
async def delete_branch(session: Session, ctx: Updater, branch_id: uuid.UUID) -> Response:
    await tenant_profile.delete_branch(session, ctx, branch_id)
    return Response(status_code=204)


@router.get(
    "/integrations",
    response_model=Page[Integration],
    summary="The business's integrations (secret names only, never secrets)",
)
async def list_integrations(session: Session, ctx: Reader) -> Page[Integration]:
    return await tenant_profile.list_integration_settings(session)
