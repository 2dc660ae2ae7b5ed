"""`/api/v1/crm/pipelines`: pipelines with their stages, and each one's summary."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response

from nexus.core.context import RequestContext
from nexus.core.http import NexusRoute, Session, problems, require
from nexus.crm.schemas_deals import (
    Page,
    Pipeline,
    PipelineCreate,
    PipelineSummary,
    PipelineUpdate,
)
from nexus.crm.service import pipelines

router = APIRouter(route_class=NexusRoute, prefix="/api/v1/crm/pipelines", tags=["crm"])

Reader = Annotated[RequestContext, require("crm.deal.read")]
Manager = Annotated[RequestContext, require("crm.pipeline.manage")]
Limit = Annotated[int, Query(ge=1, le=200, description="Items per page")]
Cursor = Annotated[str | None, Query(description="`next_cursor` of the previous page")]
IfMatch = Annotated[str | None, Header(description='The version being updated, e.g. "3"')]


@router.get("", response_model=Page[Pipeline], summary="List pipelines with their stages")
async def list(
    session: Session, ctx: Reader, limit: Limit = 50, cursor: Cursor = None
) -> Page[Pipeline]:
    return await pipelines.list_pipelines(session, ctx, limit=limit, cursor=cursor)


@router.post(
    "",
    response_model=Pipeline,
    status_code=201,
    summary="Create a pipeline with its stages",
    responses=problems(409, 422),
)
async def create(session: Session, ctx: Manager, body: PipelineCreate) -> Pipeline:
    return await pipelines.create_pipeline(session, ctx, body)


@router.get("/{pipeline_id}", response_model=Pipeline, summary="A pipeline and its stages")
async def get(session: Session, ctx: Reader, pipeline_id: uuid.UUID) -> Pipeline:
    return await pipelines.get_pipeline(session, ctx, pipeline_id)


@router.patch(
    "/{pipeline_id}",
    response_model=Pipeline,
    summary="Rename a pipeline, make it the default, or change its stages",
    responses=problems(409, 412, 422, 428),
)
async def update(
    session: Session,
    ctx: Manager,
    pipeline_id: uuid.UUID,
    body: PipelineUpdate,
    if_match: IfMatch = None,
) -> Pipeline:
    return await pipelines.update_pipeline(session, ctx, pipeline_id, body, if_match=if_match)


@router.delete(
    "/{pipeline_id}",
    status_code=204,
    response_class=Response,
    summary="Delete a pipeline no deal was ever on",
    responses=problems(409),
)
async def delete(session: Session, ctx: Manager, pipeline_id: uuid.UUID) -> Response:
    await pipelines.delete_pipeline(session, ctx, pipeline_id)
    return Response(status_code=204)


@router.get(
    "/{pipeline_id}/summary",
    response_model=PipelineSummary,
    summary="Deals per stage: count, value and weighted value",
)
async def summary(session: Session, ctx: Reader, pipeline_id: uuid.UUID) -> PipelineSummary:
    return await pipelines.pipeline_summary(session, ctx, pipeline_id)
