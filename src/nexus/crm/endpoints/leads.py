"""`/api/v1/crm/leads`: leads, and their conversion into a contact, a company and a deal."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query

from nexus.core.context import RequestContext
from nexus.core.http import NexusRoute, Session, problems, require
from nexus.crm.schemas_leads import (
    Lead,
    LeadConversion,
    LeadConverted,
    LeadCreate,
    LeadStatus,
    LeadUpdate,
    Page,
    SearchText,
)
from nexus.crm.service import leads

router = APIRouter(route_class=NexusRoute, prefix="/api/v1/crm", tags=["crm"])

Reader = Annotated[RequestContext, require("crm.lead.read")]
Creator = Annotated[RequestContext, require("crm.lead.create")]
Updater = Annotated[RequestContext, require("crm.lead.update")]
Converter = Annotated[RequestContext, require("crm.lead.convert")]
Limit = Annotated[int, Query(ge=1, le=200, description="Items per page")]
Cursor = Annotated[str | None, Query(description="`next_cursor` of the previous page")]
IfMatch = Annotated[str | None, Header(description='The version being updated, e.g. "3"')]


@router.get(
    "/leads",
    response_model=Page[Lead],
    summary="List leads, newest first",
    responses=problems(422),
)
async def list(
    session: Session,
    ctx: Reader,
    q: Annotated[SearchText | None, Query(description="Part of the name, e-mail or phone")] = None,
    status: Annotated[LeadStatus | None, Query(description="Only leads in this status")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[Lead]:
    return await leads.list_leads(session, ctx, q=q, status=status, limit=limit, cursor=cursor)


@router.post(
    "/leads", response_model=Lead, status_code=201, summary="Add a lead", responses=problems(422)
)
async def create(session: Session, ctx: Creator, body: LeadCreate) -> Lead:
    return await leads.create_lead(session, ctx, body)


@router.get("/leads/{lead_id}", response_model=Lead, summary="A lead")
async def get(session: Session, ctx: Reader, lead_id: uuid.UUID) -> Lead:
    return await leads.get_lead(session, ctx, lead_id)


@router.patch(
    "/leads/{lead_id}",
    response_model=Lead,
    summary="Change a lead (not once converted)",
    responses=problems(409, 412, 422, 428),
)
async def update(
    session: Session, ctx: Updater, lead_id: uuid.UUID, body: LeadUpdate, if_match: IfMatch = None
) -> Lead:
    return await leads.update_lead(session, ctx, lead_id, body, if_match=if_match)


@router.post(
    "/leads/{lead_id}/convert",
    response_model=LeadConverted,
    summary="Convert a lead into a contact, a company and optionally a deal",
    description="Reuses the live contact with the lead's e-mail or phone and the live company"
    " of the lead's company name (case-insensitively); a new deal enters the first open stage"
    " of the pipeline (the default one when none is named). A lead converts once (409).",
    responses=problems(409, 422),
)
async def convert(
    session: Session, ctx: Converter, lead_id: uuid.UUID, body: LeadConversion
) -> LeadConverted:
    return await leads.convert_lead(session, ctx, lead_id, body)
