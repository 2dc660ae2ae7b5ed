"""The team pages: the members of the business, inviting people, changing a member's role,
deactivating and reactivating, resending an invitation.

Every action calls the same `team` service function, with the same schema, as
`/api/v1/identity/users`, so the rules and the audit trail are the API's.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Request, Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from nexus.console.pages.common import Session, new_router, parse, require
from nexus.console.shell import (
    Form,
    flash,
    form_with_error,
    gettext,
    read_form,
    redirect,
    render,
    settings_of,
)
from nexus.core.context import RequestContext
from nexus.core.errors import NexusError, NotFound, PreconditionFailed
from nexus.identity.schemas.team import MemberInvite, MemberStatus, MemberUpdate, SearchText
from nexus.identity.service import roles, team

router = new_router()

Reader = Annotated[RequestContext, require("identity.user.read")]
Inviter = Annotated[RequestContext, require("identity.user.invite")]
Updater = Annotated[RequestContext, require("identity.user.update")]
Deactivator = Annotated[RequestContext, require("identity.user.deactivate")]
PAGE_SIZE = 50


class MemberFilters(BaseModel):
    """The query of the members list, validated like the API's query parameters."""

    q: SearchText | None = None
    status: MemberStatus | None = None
    role: SearchText | None = None
    cursor: SearchText | None = None


def filters_of(request: Request) -> MemberFilters:
    values = {
        k: v for k, v in request.query_params.items() if v and k in MemberFilters.model_fields
    }
    return parse(MemberFilters, values)


async def role_options(session: AsyncSession, ctx: RequestContext) -> list[tuple[str, str]]:
    """The business's roles as `(key, name)` for a select, built-in ones first."""
    page = await roles.list_roles(session, ctx, limit=200)
    return [(role.key, role.name) for role in page.items]


async def _team_page(
    request: Request,
    session: AsyncSession,
    ctx: RequestContext,
    filters: MemberFilters,
    invite: Form,
    *,
    status: int = 200,
) -> Response:
    page = await team.list_members(
        session,
        ctx,
        search=filters.q,
        status=filters.status,
        role=filters.role,
        limit=PAGE_SIZE,
        cursor=filters.cursor,
    )
    context: dict[str, Any] = {
        "page": page,
        "filters": filters,
        "is_filtered": bool(filters.q or filters.status or filters.role),
        "roles": await role_options(session, ctx),
        "invite": invite,
    }
    return await render(request, "identity/team.html", context, status=status)


@router.get("/team")
async def members(request: Request, session: Session, ctx: Reader) -> Response:
    return await _team_page(request, session, ctx, filters_of(request), Form.empty(role="staff"))


@router.post("/team/invite")
async def invite(request: Request, session: Session, ctx: Inviter) -> Response:
    values = await read_form(request)
    try:
        body = parse(MemberInvite, {k: v for k, v in values.items() if v != "" or k != "name"})
        member = await team.invite_member(
            session,
            ctx,
            email=str(body.email),
            role=body.role,
            name=body.name,
            public_base_url=settings_of(request).public_base_url,
        )
    except NexusError as error:
        form = form_with_error(values, error)
        return await _team_page(request, session, ctx, MemberFilters(), form, status=error.status)
    message = gettext(request, "We sent an invitation to %(email)s.", email=member.email)
    return flash(redirect(request, "/team"), message)


# --- one member ----------------------------------------------------------------------------


async def _member_page(
    request: Request,
    session: AsyncSession,
    ctx: RequestContext,
    user_id: uuid.UUID,
    form: Form | None = None,
    *,
    status: int = 200,
) -> Response:
    member = await team.get_member(session, ctx, user_id)
    context = {
        "member": member,
        "roles": await role_options(session, ctx),
        "form": form or Form.empty(role=member.role, version=member.version),
        "is_self": member.user_id == ctx.user_id,
    }
    return await render(request, "identity/member.html", context, status=status)


async def _refused(
    request: Request,
    session: AsyncSession,
    ctx: RequestContext,
    user_id: uuid.UUID,
    values: dict[str, Any],
    error: NexusError,
) -> Response:
    """The member page again, with the problem above the form."""
    if isinstance(error, NotFound):
        raise error
    form = form_with_error(values, error)
    if isinstance(error, PreconditionFailed):
        form.message = gettext(
            request,
            "Someone else changed this member while you were looking. "
            "The page now shows the current role: check it and try again.",
        )
        form.values = {}
    return await _member_page(request, session, ctx, user_id, form, status=error.status)


@router.get("/team/{user_id}")
async def get(request: Request, session: Session, ctx: Reader, user_id: uuid.UUID) -> Response:
    return await _member_page(request, session, ctx, user_id)


@router.post("/team/{user_id}")
async def update(request: Request, session: Session, ctx: Updater, user_id: uuid.UUID) -> Response:
    values = await read_form(request)
    try:
        body = parse(
            MemberUpdate, {"role": values.get("role"), "version": values.get("version") or None}
        )
        member = await team.update_member(
            session, ctx, user_id, role=body.role, name=None, version=body.version
        )
    except NexusError as error:
        return await _refused(request, session, ctx, user_id, values, error)
    message = gettext(
        request, "%(name)s's role is now %(role)s.", name=_who(member), role=member.role
    )
    return flash(redirect(request, f"/team/{user_id}"), message)


@router.post("/team/{user_id}/deactivate")
async def deactivate(
    request: Request, session: Session, ctx: Deactivator, user_id: uuid.UUID
) -> Response:
    try:
        member = await team.deactivate_member(session, ctx, user_id)
    except NexusError as error:
        return await _refused(request, session, ctx, user_id, {}, error)
    message = gettext(request, "%(name)s is deactivated and signed out.", name=_who(member))
    return flash(redirect(request, f"/team/{user_id}"), message)


@router.post("/team/{user_id}/reactivate")
async def reactivate(
    request: Request, session: Session, ctx: Deactivator, user_id: uuid.UUID
) -> Response:
    try:
        member = await team.reactivate_member(session, ctx, user_id)
    except NexusError as error:
        return await _refused(request, session, ctx, user_id, {}, error)
    message = gettext(request, "%(name)s is active again.", name=_who(member))
    return flash(redirect(request, f"/team/{user_id}"), message)


@router.post("/team/{user_id}/resend-invitation")
async def resend_invitation(
    request: Request, session: Session, ctx: Inviter, user_id: uuid.UUID
) -> Response:
    try:
        member = await team.resend_invitation(
            session, ctx, user_id, public_base_url=settings_of(request).public_base_url
        )
    except NexusError as error:
        return await _refused(request, session, ctx, user_id, {}, error)
    message = gettext(request, "We sent a new invitation to %(email)s.", email=member.email)
    return flash(redirect(request, f"/team/{user_id}"), message)


def _who(member: Any) -> str:
    return str(member.name or member.email)
