"""Console forms of leads."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from nexus.console.pages.common import Session, new_router, parse
from nexus.console.shell import (
    Form,
    flash,
    gettext,
    read_form,
    redirect,
)
from nexus.core.context import RequestContext
from nexus.core.errors import NexusError
from nexus.crm.console_forms.common import (
    LEAD_STATUSES,
    LeadCreator,
    LeadUpdater,
    _custom,
    _custom_values,
    _definitions,
    _failed,
    _Field,
    _form_page,
    _owners,
    _text,
    _version,
)
from nexus.crm.schemas_leads import LeadCreate, LeadUpdate
from nexus.crm.service import leads

router = new_router()


# --- leads ---------------------------------------------------------------------------------


async def _lead_form(
    request: Request,
    session: AsyncSession,
    ctx: RequestContext,
    form: Form,
    definitions: list[_Field],
    *,
    lead: Any = None,
    status: int = 200,
) -> Response:
    context = {
        "form": form,
        "lead": lead,
        "definitions": definitions,
        "owners": await _owners(session, ctx),
        "statuses": LEAD_STATUSES,
    }
    return await _form_page(request, "crm/lead_form.html", context, status)


def _lead_fields(
    request: Request, definitions: list[_Field], values: dict[str, Any], *, editing: bool
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": values.get("name", ""),
        "email": _text(values, "email"),
        "phone": _text(values, "phone"),
        "company_name": _text(values, "company_name"),
        "source": _text(values, "source"),
        "status": values.get("status") or "new",
        "notes": _text(values, "notes"),
        "custom": _custom(request, definitions, values, editing=editing),
    }
    if _text(values, "owner_id"):
        body["owner_id"] = _text(values, "owner_id")
    return body


@router.get("/crm/leads/new")
async def new_lead(request: Request, session: Session, ctx: LeadCreator) -> Response:
    definitions = await _definitions(session, ctx, "lead")
    return await _lead_form(request, session, ctx, Form.empty(status="new"), definitions)


@router.post("/crm/leads/new")
async def create_lead(request: Request, session: Session, ctx: LeadCreator) -> Response:
    values = await read_form(request)
    definitions = await _definitions(session, ctx, "lead")
    try:
        body = _lead_fields(request, definitions, values, editing=False)
        made = await leads.create_lead(session, ctx, parse(LeadCreate, body))
    except NexusError as error:
        form = _failed(values, error, request)
        return await _lead_form(request, session, ctx, form, definitions, status=error.status)
    url = f"/crm/leads/{made.id}"
    return flash(redirect(request, url), gettext(request, "The lead is added."))


@router.get("/crm/leads/{lead_id}/edit")
async def edit_lead(
    request: Request, session: Session, ctx: LeadUpdater, lead_id: uuid.UUID
) -> Response:
    lead = await leads.get_lead(session, ctx, lead_id)
    definitions = await _definitions(session, ctx, "lead")
    form = Form.empty(
        name=lead.name,
        email=lead.email or "",
        phone=lead.phone or "",
        company_name=lead.company_name or "",
        source=lead.source or "",
        status=lead.status,
        notes=lead.notes or "",
        owner_id=str(lead.owner_id or ""),
        version=str(lead.version),
        **_custom_values(definitions, lead.custom),
    )
    return await _lead_form(request, session, ctx, form, definitions, lead=lead)


@router.post("/crm/leads/{lead_id}/edit")
async def update_lead(
    request: Request, session: Session, ctx: LeadUpdater, lead_id: uuid.UUID
) -> Response:
    values = await read_form(request)
    lead = await leads.get_lead(session, ctx, lead_id)
    definitions = await _definitions(session, ctx, "lead")
    try:
        body = _lead_fields(request, definitions, values, editing=True)
        body["version"] = _version(values)
        await leads.update_lead(session, ctx, lead_id, parse(LeadUpdate, body))
    except NexusError as error:
        form = _failed(values, error, request)
        return await _lead_form(
            request, session, ctx, form, definitions, lead=lead, status=error.status
        )
    url = f"/crm/leads/{lead_id}"
    return flash(redirect(request, url), gettext(request, "The lead is saved."))
