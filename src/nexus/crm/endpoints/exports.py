"""`/api/v1/crm/{contacts,companies,deals,leads}/export.csv`: any filtered list as CSV,
streamed (see `service/exports.py` for how the rows are read while the file is sent).

This router is included before the records' routers, so `export.csv` is not read as an id."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from nexus.core.context import RequestContext
from nexus.core.http import NexusRoute, Session, problems, require
from nexus.crm.schemas import SearchText
from nexus.crm.schemas_deals import DealStatus
from nexus.crm.schemas_leads import LeadStatus
from nexus.crm.service import deals, exports, leads

router = APIRouter(route_class=NexusRoute, prefix="/api/v1/crm", tags=["crm"])

# An export needs `crm.data.export` and the permission to read the records it holds.
ContactExporter = Annotated[RequestContext, require("crm.data.export", also=("crm.contact.read",))]
CompanyExporter = Annotated[RequestContext, require("crm.data.export", also=("crm.company.read",))]
DealExporter = Annotated[RequestContext, require("crm.data.export", also=("crm.deal.read",))]
LeadExporter = Annotated[RequestContext, require("crm.data.export", also=("crm.lead.read",))]
Text = Annotated[SearchText | None, Query(description="In name, e-mail or phone")]
Tag = Annotated[SearchText | None, Query(description="Having this tag")]
Owner = Annotated[uuid.UUID | None, Query(description="Owned by this user")]

ACCESS = (
    " Needs `crm.data.export` and the records' read permission; without `crm.record.all` "
    "only the caller's own records are exported. Cells a spreadsheet would run as a formula "
    "(starting with `=`, `+`, `-` or `@`) are prefixed with `'`. The file is streamed in "
    "batches of 1,000 rows and holds the records created before the export started. One "
    "audit event records the export and the filters used."
)


def _csv(example: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {"content": {"text/csv": {"schema": {"type": "string"}, "example": example}}},
        **problems(422),
    }


def _response(export: exports.Export) -> StreamingResponse:
    return StreamingResponse(
        exports.stream_export(export),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{export.filename}"'},
    )


@router.get(
    "/contacts/export.csv",
    response_class=StreamingResponse,
    summary="Export contacts as CSV",
    description="The live contacts the caller may see, filtered like the contact list, in the "
    "import's columns plus `id`, `owner_id` and `created_at`, oldest first. Sensitive custom "
    "columns appear only for `crm.sensitive.read` holders, and showing them is audited." + ACCESS,
    responses=_csv(
        "id,first_name,last_name,email,phone,job_title,company,tags,owner_id,created_at\r\n"
        "0190a1b2-0000-7000-8000-000000000001,Ada,Obi,ada@example.com,+2348031234567,,"
        "Acme,vip,,2026-01-01T00:00:00+00:00\r\n"
    ),
)
async def export_contacts(
    session: Session,
    ctx: ContactExporter,
    q: Text = None,
    tag: Tag = None,
    owner: Owner = None,
    company: Annotated[uuid.UUID | None, Query(description="Of this company")] = None,
) -> StreamingResponse:
    statement = exports.contacts_statement(session, ctx, q=q, tag=tag, owner=owner, company=company)
    filters = {"q": q, "tag": tag, "owner": owner, "company": company}
    return _response(
        await exports.start_export(session, ctx, "contact", statement, filters=filters)
    )


@router.get(
    "/companies/export.csv",
    response_class=StreamingResponse,
    summary="Export companies as CSV",
    description="The live companies the caller may see, filtered like the company list, "
    "oldest first. Sensitive custom columns appear only for `crm.sensitive.read` holders, and "
    "showing them is audited." + ACCESS,
    responses=_csv(
        "id,name,domain,email,phone,website,industry,tags,owner_id,created_at\r\n"
        "0190a1b2-0000-7000-8000-000000000002,Acme,acme.ng,hello@acme.ng,,,Retail,,,"
        "2026-01-01T00:00:00+00:00\r\n"
    ),
)
async def export_companies(
    session: Session, ctx: CompanyExporter, q: Text = None, tag: Tag = None, owner: Owner = None
) -> StreamingResponse:
    statement = exports.companies_statement(session, ctx, q=q, tag=tag, owner=owner)
    filters = {"q": q, "tag": tag, "owner": owner}
    return _response(
        await exports.start_export(session, ctx, "company", statement, filters=filters)
    )


@router.get(
    "/deals/export.csv",
    response_class=StreamingResponse,
    summary="Export deals as CSV",
    description="The live deals the caller may see, filtered like the deal list, oldest "
    "first; the amount in minor units with its currency." + ACCESS,
    responses=_csv(
        "id,title,pipeline_id,stage_id,amount_minor,currency,expected_close,status,"
        "lost_reason,contact_id,company_id,owner_id,created_at\r\n"
        "0190a1b2-0000-7000-8000-000000000003,Catering,0190a1b2-0000-7000-8000-000000000004,"
        "0190a1b2-0000-7000-8000-000000000005,250000,NGN,2026-03-31,open,,,,,"
        "2026-01-01T00:00:00+00:00\r\n"
    ),
)
async def export_deals(
    session: Session,
    ctx: DealExporter,
    pipeline_id: uuid.UUID | None = None,
    stage_id: uuid.UUID | None = None,
    status: DealStatus | None = None,
    owner_id: uuid.UUID | None = None,
    contact_id: uuid.UUID | None = None,
    company_id: uuid.UUID | None = None,
) -> StreamingResponse:
    filters = deals.DealFilters(
        pipeline_id=pipeline_id,
        stage_id=stage_id,
        status=status,
        owner_id=owner_id,
        contact_id=contact_id,
        company_id=company_id,
    )
    return _response(
        await exports.start_export(
            session,
            ctx,
            "deal",
            deals.filtered(ctx, filters),
            filters={name: getattr(filters, name) for name in filters.__dataclass_fields__},
        )
    )


@router.get(
    "/leads/export.csv",
    response_class=StreamingResponse,
    summary="Export leads as CSV",
    description="The leads the caller may see, filtered like the lead list, oldest first." + ACCESS,
    responses=_csv(
        "id,name,email,phone,company_name,source,status,owner_id,converted_contact_id,"
        "created_at\r\n"
        "0190a1b2-0000-7000-8000-000000000006,Ada Obi,ada@example.com,,Acme,website,new,,,"
        "2026-01-01T00:00:00+00:00\r\n"
    ),
)
async def export_leads(
    session: Session,
    ctx: LeadExporter,
    q: Annotated[SearchText | None, Query(description="Part of the name, e-mail or phone")] = None,
    status: Annotated[LeadStatus | None, Query(description="Only leads in this status")] = None,
) -> StreamingResponse:
    statement = leads.leads_statement(ctx, q=q, status=status)
    return _response(
        await exports.start_export(
            session, ctx, "lead", statement, filters={"q": q, "status": status}
        )
    )
