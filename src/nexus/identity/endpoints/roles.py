"""`/api/v1/identity/roles` and `/api/v1/identity/permissions`: who may do what."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response

from nexus.core.context import RequestContext
from nexus.core.http import NexusRoute, Session, problems, require
from nexus.identity.schemas.team import Page, PermissionCatalog, Role, RoleCreate, RoleUpdate
from nexus.identity.service import roles

router = APIRouter(route_class=NexusRoute, prefix="/api/v1/identity", tags=["team"])

Reader = Annotated[RequestContext, require("identity.role.read")]
Manager = Annotated[RequestContext, require("identity.role.manage")]
Limit = Annotated[int, Query(ge=1, le=200, description="Items per page")]
Cursor = Annotated[str | None, Query(description="`next_cursor` of the previous page")]
IfMatch = Annotated[str | None, Header(description='The version being updated, e.g. "3"')]


@router.get("/roles", response_model=Page[Role], summary="List roles (built-in and custom)")
async def list(
    session: Session, ctx: Reader, limit: Limit = 50, cursor: Cursor = None
) -> Page[Role]:
    return await roles.list_roles(session, ctx, limit=limit, cursor=cursor)


@router.post(
    "/roles",
    response_model=Role,
    status_code=201,
    summary="Create a custom role",
    responses=problems(409, 422),
)
async def create(session: Session, ctx: Manager, body: RoleCreate) -> Role:
    return await roles.create_role(session, ctx, body)


@router.get("/roles/{role_id}", response_model=Role, summary="A role and its permissions")
async def get(session: Session, ctx: Reader, role_id: uuid.UUID) -> Role:
    return await roles.get_role(session, ctx, role_id)


@router.patch(
    "/roles/{role_id}",
    response_model=Role,
    summary="Change a custom role (built-in roles are read-only)",
    responses=problems(409, 412, 422, 428),
)
async def update(
    session: Session, ctx: Manager, role_id: uuid.UUID, body: RoleUpdate, if_match: IfMatch = None
) -> Role:
    return await roles.update_role(session, ctx, role_id, body, if_match=if_match)


@router.delete(
    "/roles/{role_id}",
    status_code=204,
    response_class=Response,
    summary="Delete a custom role no member holds",
    responses=problems(409),
)
async def delete(session: Session, ctx: Manager, role_id: uuid.UUID) -> Response:
    await roles.delete_role(session, ctx, role_id)
    return Response(status_code=204)


@router.get(
    "/permissions",
    response_model=PermissionCatalog,
    summary="Every permission a role can grant, by module",
)
async def permissions(ctx: Reader) -> PermissionCatalog:
    return roles.permission_catalog(ctx)
