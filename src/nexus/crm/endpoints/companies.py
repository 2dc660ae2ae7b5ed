"""`/api/v1/crm/companies`: the organisations a business deals with."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response

from nexus.core.context import RequestContext
from nexus.core.http import NexusRoute, Session, problems, require
from nexus.crm.schemas import (
    Company,
    CompanyCreate,
    CompanyUpdate,
    Merge,
    Page,
    RecordSort,
    SearchText,
)
from nexus.crm.service import companies

router = APIRouter(route_class=NexusRoute, prefix="/api/v1/crm/companies", tags=["crm"])

Reader = Annotated[RequestContext, require("crm.company.read")]
Creator = Annotated[RequestContext, require("crm.company.create")]
Updater = Annotated[RequestContext, require("crm.company.update")]
Deleter = Annotated[RequestContext, require("crm.company.delete")]
Limit = Annotated[int, Query(ge=1, le=200, description="Items per page")]
Cursor = Annotated[str | None, Query(description="`next_cursor` of the previous page")]
IfMatch = Annotated[str | None, Header(description='The version being updated, e.g. "3"')]

ACCESS = (
    "Without `crm.record.all` a caller sees and changes only the companies they own; others' "
    "answer 404. Sensitive custom values are shown only to `crm.sensitive.read` holders, and "
    "each response showing them is audited (`crm.company.sensitive_read`, naming the fields)."
)
MERGED = (
    " A company merged into another answers 404 with the code `company_merged` and "
    "`merged_into`, the id of the company that holds its records now."
)


@router.get(
    "",
    response_model=Page[Company],
    summary="List companies",
    description="Live companies, newest first unless `sort` says otherwise. " + ACCESS,
    responses=problems(422),
)
async def list(
    session: Session,
    ctx: Reader,
    q: Annotated[SearchText | None, Query(description="In name, e-mail or phone")] = None,
    tag: Annotated[SearchText | None, Query(description="Having this tag")] = None,
    owner: Annotated[uuid.UUID | None, Query(description="Owned by this user")] = None,
    sort: Annotated[RecordSort, Query(description="`-` for descending")] = "-created",
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[Company]:
    return await companies.list_companies(
        session,
        ctx,
        q=q,
        tag=tag,
        owner=owner,
        sort=sort,
        limit=limit,
        cursor=cursor,
    )


@router.post(
    "",
    response_model=Company,
    status_code=201,
    summary="Add a company",
    description="Owned by the caller unless `owner_id` says otherwise. A live company with the "
    "same e-mail (case-insensitive) or phone answers 409 `duplicate_company` with "
    "`field`, and `existing_id` when the caller may open that record.",
    responses=problems(409, 422),
)
async def create(session: Session, ctx: Creator, body: CompanyCreate) -> Company:
    return await companies.create_company(session, ctx, body)


@router.get(
    "/{company_id}",
    response_model=Company,
    summary="A company",
    description=ACCESS + MERGED,
)
async def get(session: Session, ctx: Reader, company_id: uuid.UUID) -> Company:
    return await companies.get_company(session, ctx, company_id)


@router.patch(
    "/{company_id}",
    response_model=Company,
    summary="Change a company",
    description="Fields sent change; `null` clears an optional field; `custom` is merged into "
    "the values held. A duplicate e-mail or phone answers 409 `duplicate_company`.",
    responses=problems(409, 412, 422, 428),
)
async def update(
    session: Session,
    ctx: Updater,
    company_id: uuid.UUID,
    body: CompanyUpdate,
    if_match: IfMatch = None,
) -> Company:
    return await companies.update_company(session, ctx, company_id, body, if_match=if_match)


@router.delete(
    "/{company_id}",
    status_code=204,
    response_class=Response,
    summary="Delete a company (its history stays)",
)
async def delete(session: Session, ctx: Deleter, company_id: uuid.UUID) -> Response:
    await companies.delete_company(session, ctx, company_id)
    return Response(status_code=204)


@router.post(
    "/{company_id}/merge",
    response_model=Company,
    summary="Merge another company into this one",
    description="The other company's contacts, deals, activities and leads move to this one; "
    "fields this one lacks are filled from it and tags are united. The other is retired: "
    "its own history stays (audit events under its id), and reading it answers 404 "
    "`company_merged` with `merged_into`. Both companies are audited.",
    responses=problems(422),
)
async def merge(session: Session, ctx: Updater, company_id: uuid.UUID, body: Merge) -> Company:
    return await companies.merge_companies(session, ctx, company_id, body.from_id)
