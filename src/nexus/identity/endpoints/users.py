"""`/api/v1/identity/users`: the team of the business (invite, change role, deactivate)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request

from nexus.core.context import RequestContext
from nexus.core.http import NexusRoute, Session, problems, require
from nexus.core.settings import Settings
from nexus.identity.schemas.team import (
    Member,
    MemberInvite,
    MemberStatus,
    MemberUpdate,
    Page,
    SearchText,
)
from nexus.identity.service import team

router = APIRouter(route_class=NexusRoute, prefix="/api/v1/identity/users", tags=["team"])

Reader = Annotated[RequestContext, require("identity.user.read")]
Inviter = Annotated[RequestContext, require("identity.user.invite")]
Updater = Annotated[RequestContext, require("identity.user.update")]
Deactivator = Annotated[RequestContext, require("identity.user.deactivate")]
Limit = Annotated[int, Query(ge=1, le=200, description="Items per page")]
Cursor = Annotated[str | None, Query(description="`next_cursor` of the previous page")]
IfMatch = Annotated[str | None, Header(description='The version being updated, e.g. "3"')]


def _public_base_url(request: Request) -> str:
    settings: Settings = request.app.state.settings
    return settings.public_base_url


@router.get("", response_model=Page[Member], summary="List the members of the business")
async def list(
    session: Session,
    ctx: Reader,
    search: Annotated[SearchText | None, Query(description="In name or e-mail")] = None,
    status: MemberStatus | None = None,
    role: Annotated[SearchText | None, Query(description="A role key")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[Member]:
    return await team.list_members(
        session, ctx, search=search, status=status, role=role, limit=limit, cursor=cursor
    )


@router.post(
    "",
    response_model=Member,
    status_code=201,
    summary="Invite a person (an invitation link is e-mailed)",
    responses=problems(409, 422),
)
async def invite(session: Session, ctx: Inviter, body: MemberInvite, request: Request) -> Member:
    return await team.invite_member(
        session,
        ctx,
        email=str(body.email),
        role=body.role,
        name=body.name,
        public_base_url=_public_base_url(request),
    )


@router.get("/{user_id}", response_model=Member, summary="A member of the business")
async def get(session: Session, ctx: Reader, user_id: uuid.UUID) -> Member:
    return await team.get_member(session, ctx, user_id)


@router.patch(
    "/{user_id}",
    response_model=Member,
    summary="Change a member's role or name",
    responses=problems(409, 412, 422, 428),
)
async def update(
    session: Session,
    ctx: Updater,
    user_id: uuid.UUID,
    body: MemberUpdate,
    if_match: IfMatch = None,
) -> Member:
    return await team.update_member(
        session,
        ctx,
        user_id,
        role=body.role,
        name=body.name,
        version=body.version,
        if_match=if_match,
    )


@router.post(
    "/{user_id}/deactivate",
    response_model=Member,
    summary="Deactivate a member and end their sessions",
    responses=problems(409),
)
async def deactivate(session: Session, ctx: Deactivator, user_id: uuid.UUID) -> Member:
    return await team.deactivate_member(session, ctx, user_id)


@router.post(
    "/{user_id}/reactivate",
    response_model=Member,
    summary="Reactivate a deactivated member",
    responses=problems(409),
)
async def reactivate(session: Session, ctx: Deactivator, user_id: uuid.UUID) -> Member:
    return await team.reactivate_member(session, ctx, user_id)


@router.post(
    "/{user_id}/resend-invitation",
    response_model=Member,
    summary="E-mail a fresh invitation link to an invited member",
    responses=problems(409),
)
async def resend_invitation(
    session: Session, ctx: Inviter, user_id: uuid.UUID, request: Request
) -> Member:
    return await team.resend_invitation(
        session, ctx, user_id, public_base_url=_public_base_url(request)
    )
