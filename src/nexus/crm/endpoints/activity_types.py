"""`/api/v1/crm/activity-types`: the built-in activity kinds and the business's own."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Response

from nexus.core.context import RequestContext
from nexus.core.http import NexusRoute, Session, problems, require
from nexus.crm.schemas_activity_types import (
    ActivityType,
    ActivityTypeCreate,
    ActivityTypeUpdate,
    Page,
)
from nexus.crm.service import activities

router = APIRouter(route_class=NexusRoute, prefix="/api/v1/crm/activity-types", tags=["crm"])

Reader = Annotated[RequestContext, require("crm.activity.read")]
Manager = Annotated[RequestContext, require("crm.field.manage")]


@router.get(
    "",
    response_model=Page[ActivityType],
    summary="List activity types",
    description="The built-in kinds (call, meeting, task, note, email; no `id`, fixed) then the "
    "business's own by key, including those its industry preset provisioned; one page, in "
    "one query whatever their number.",
)
async def list(session: Session, ctx: Reader) -> Page[ActivityType]:
    return await activities.list_activity_types(session, ctx)


@router.post(
    "",
    response_model=ActivityType,
    status_code=201,
    summary="Add an activity type",
    description="A kind activities may then carry. Its key is unique in the business and may "
    "not be a built-in kind's (409 `activity_type_key_taken`); it is fixed once made.",
    responses=problems(409, 422),
)
async def create(session: Session, ctx: Manager, body: ActivityTypeCreate) -> ActivityType:
    return await activities.create_activity_type(session, ctx, body)


@router.get(
    "/{activity_type_id}",
    response_model=ActivityType,
    summary="An activity type of the business",
)
async def get(session: Session, ctx: Reader, activity_type_id: uuid.UUID) -> ActivityType:
    return await activities.get_activity_type(session, ctx, activity_type_id)


@router.patch(
    "/{activity_type_id}",
    response_model=ActivityType,
    summary="Rename an activity type",
    description="Only the name changes (the key is what activities carry).",
    responses=problems(422),
)
async def update(
    session: Session, ctx: Manager, activity_type_id: uuid.UUID, body: ActivityTypeUpdate
) -> ActivityType:
    return await activities.update_activity_type(session, ctx, activity_type_id, body)


@router.delete(
    "/{activity_type_id}",
    status_code=204,
    response_class=Response,
    summary="Delete an activity type",
    description="Only a type no activity carries: otherwise 409 `activity_type_in_use`. The "
    "built-in kinds have no id and cannot be deleted.",
    responses=problems(409),
)
async def delete(session: Session, ctx: Manager, activity_type_id: uuid.UUID) -> Response:
    await activities.delete_activity_type(session, ctx, activity_type_id)
    return Response(status_code=204)
