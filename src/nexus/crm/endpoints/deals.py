"""`/api/v1/crm/deals`: deals on pipelines, moved between stages, and the forecast."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response

from nexus.core.context import RequestContext
from nexus.core.http import NexusRoute, Session, problems, require
from nexus.crm.schemas_deals import (
    Deal,
    DealCreate,
    DealSort,
    DealStatus,
    DealUpdate,
    Forecast,
    Page,
)
from nexus.crm.service import deals

router = APIRouter(route_class=NexusRoute, prefix="/api/v1/crm/deals", tags=["crm"])

Reader = Annotated[RequestContext, require("crm.deal.read")]
Creator = Annotated[RequestContext, require("crm.deal.create")]
Updater = Annotated[RequestContext, require("crm.deal.update")]
Deleter = Annotated[RequestContext, require("crm.deal.delete")]
Limit = Annotated[int, Query(ge=1, le=200, description="Items per page")]
Cursor = Annotated[str | None, Query(description="`next_cursor` of the previous page")]
IfMatch = Annotated[str | None, Header(description='The version being updated, e.g. "3"')]


@router.get("", response_model=Page[Deal], summary="List deals")
async def list(
    session: Session,
    ctx: Reader,
    pipeline_id: uuid.UUID | None = None,
    stage_id: uuid.UUID | None = None,
    status: DealStatus | None = None,
    owner_id: uuid.UUID | None = None,
    contact_id: uuid.UUID | None = None,
    company_id: uuid.UUID | None = None,
    sort: Annotated[
        DealSort, Query(description="`-` for descending; deals without a date come last")
    ] = "-created_at",
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[Deal]:
    filters = deals.DealFilters(
        pipeline_id=pipeline_id,
        stage_id=stage_id,
        status=status,
        owner_id=owner_id,
        contact_id=contact_id,
        company_id=company_id,
    )
    return await deals.list_deals(
        session, ctx, filters=filters, sort=sort, limit=limit, cursor=cursor
    )


@router.post(
    "",
    response_model=Deal,
    status_code=201,
    summary="Create a deal",
    responses=problems(404, 422),
)
async def create(session: Session, ctx: Creator, body: DealCreate) -> Deal:
    return await deals.create_deal(session, ctx, body)


@router.get(
    "/forecast",
    response_model=Forecast,
    summary="Open deals' value and weighted value by month of expected close",
)
async def forecast(
    session: Session,
    ctx: Reader,
    months: Annotated[int, Query(ge=1, le=24, description="Months from this one")] = 6,
) -> Forecast:
    return await deals.forecast(session, ctx, months=months)


@router.get("/{deal_id}", response_model=Deal, summary="A deal")
async def get(session: Session, ctx: Reader, deal_id: uuid.UUID) -> Deal:
    return await deals.get_deal(session, ctx, deal_id)


@router.patch(
    "/{deal_id}",
    response_model=Deal,
    summary="Change a deal or move it to another stage",
    responses=problems(404, 412, 422, 428),
)
async def update(
    session: Session, ctx: Updater, deal_id: uuid.UUID, body: DealUpdate, if_match: IfMatch = None
) -> Deal:
    return await deals.update_deal(session, ctx, deal_id, body, if_match=if_match)


@router.delete(
    "/{deal_id}",
    status_code=204,
    response_class=Response,
    summary="Delete a deal (it stays in the audit history)",
)
async def delete(session: Session, ctx: Deleter, deal_id: uuid.UUID) -> Response:
    await deals.delete_deal(session, ctx, deal_id)
    return Response(status_code=204)
