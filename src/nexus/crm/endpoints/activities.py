"""`/api/v1/crm/activities`: calls, meetings, tasks, notes and e-mail logs; "my open tasks";
and a contact's timeline."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query

from nexus.core.context import RequestContext
from nexus.core.http import NexusRoute, Session, problems, require
from nexus.crm.schemas_deals import (
    Activity,
    ActivityCreate,
    ActivityState,
    ActivityUpdate,
    Page,
    TimelineEntry,
)
from nexus.crm.service import activities
from nexus.identity.schemas.team import UTCTime

router = APIRouter(route_class=NexusRoute, prefix="/api/v1/crm", tags=["crm"])

Reader = Annotated[RequestContext, require("crm.activity.read")]
Creator = Annotated[RequestContext, require("crm.activity.create")]
Updater = Annotated[RequestContext, require("crm.activity.update")]
Limit = Annotated[int, Query(ge=1, le=200, description="Items per page")]
Cursor = Annotated[str | None, Query(description="`next_cursor` of the previous page")]
IfMatch = Annotated[str | None, Header(description='The version being updated, e.g. "3"')]


@router.get("/activities", response_model=Page[Activity], summary="List activities, newest first")
async def list(
    session: Session,
    ctx: Reader,
    contact_id: uuid.UUID | None = None,
    company_id: uuid.UUID | None = None,
    deal_id: uuid.UUID | None = None,
    assignee_id: uuid.UUID | None = None,
    state: Annotated[ActivityState | None, Query(description="Open or done")] = None,
    due_before: Annotated[UTCTime | None, Query(description="Due before this time")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[Activity]:
    return await activities.list_activities(
        session,
        ctx,
        contact_id=contact_id,
        company_id=company_id,
        deal_id=deal_id,
        assignee_id=assignee_id,
        state=state,
        due_before=due_before,
        limit=limit,
        cursor=cursor,
    )


@router.post(
    "/activities",
    response_model=Activity,
    status_code=201,
    summary="Log an activity or add a task",
    responses=problems(422),
)
async def create(session: Session, ctx: Creator, body: ActivityCreate) -> Activity:
    return await activities.create_activity(session, ctx, body)


@router.get(
    "/activities/mine",
    response_model=Page[Activity],
    summary="My open tasks, soonest due first",
)
async def mine(
    session: Session, ctx: Reader, limit: Limit = 50, cursor: Cursor = None
) -> Page[Activity]:
    return await activities.my_open_tasks(session, ctx, limit=limit, cursor=cursor)


@router.get("/activities/{activity_id}", response_model=Activity, summary="An activity")
async def get(session: Session, ctx: Reader, activity_id: uuid.UUID) -> Activity:
    return await activities.get_activity(session, ctx, activity_id)


@router.patch(
    "/activities/{activity_id}",
    response_model=Activity,
    summary="Change an activity, or mark it done or not done",
    responses=problems(412, 422, 428),
)
async def update(
    session: Session,
    ctx: Updater,
    activity_id: uuid.UUID,
    body: ActivityUpdate,
    if_match: IfMatch = None,
) -> Activity:
    return await activities.update_activity(session, ctx, activity_id, body, if_match=if_match)


@router.get(
    "/contacts/{contact_id}/timeline",
    response_model=Page[TimelineEntry],
    summary="A contact's activities and recorded changes, newest first",
)
async def timeline(
    session: Session, ctx: Reader, contact_id: uuid.UUID, limit: Limit = 50, cursor: Cursor = None
) -> Page[TimelineEntry]:
    return await activities.contact_timeline(session, ctx, contact_id, limit=limit, cursor=cursor)
