"""The CRM's console pages: contacts (list, a contact's page with its custom fields, timeline,
activity form, consents, export and erasure), CSV imports of contacts, leads and their
conversion, companies, and each pipeline's board of deals.

Every page calls the CRM services with the schemas of `/api/v1/crm/...`, so rules, record-level
access and audit are those of the API.
"""

from __future__ import annotations

import json
import uuid
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

from fastapi import Request, Response
from starlette.datastructures import UploadFile

from nexus.console.pages.common import Session, new_router, parse, require
from nexus.console.shell import (
    Form,
    add_templates,
    flash,
    form_with_error,
    gettext,
    read_form,
    redirect,
    render,
)
from nexus.core.context import RequestContext
from nexus.core.errors import NexusError, invalid
from nexus.core.money import Money
from nexus.crm import console_forms
from nexus.crm.schemas_deals import ActivityCreate, DealUpdate
from nexus.crm.schemas_leads import ConsentCreate, LeadConversion
from nexus.crm.service import (
    activities,
    companies,
    contacts,
    deals,
    fields,
    imports,
    leads,
    pipelines,
    privacy,
)
from nexus.identity.service import tenant_profile

add_templates(Path(__file__).parent / "templates")
router = new_router()
# The forms first: `/crm/contacts/new` must not be read as a contact's id.
router.include_router(console_forms.router)

ContactReader = Annotated[RequestContext, require("crm.contact.read")]
CompanyReader = Annotated[RequestContext, require("crm.company.read")]
DealReader = Annotated[RequestContext, require("crm.deal.read")]
DealUpdater = Annotated[RequestContext, require("crm.deal.update")]
ActivityCreator = Annotated[RequestContext, require("crm.activity.create")]
ConsentManager = Annotated[RequestContext, require("crm.consent.manage")]
Exporter = Annotated[RequestContext, require("crm.data.export", also=("crm.contact.read",))]
Eraser = Annotated[RequestContext, require("crm.data.erase")]
Importer = Annotated[RequestContext, require("crm.import.run")]
LeadReader = Annotated[RequestContext, require("crm.lead.read")]
LeadConverter = Annotated[RequestContext, require("crm.lead.convert")]
LEAD_STATUSES = ("new", "contacted", "qualified", "converted", "disqualified")
TRUE = {"true", "1", "yes", "on"}
PAGE_SIZE = 50
BOARD_SIZE = 200
ACTIVITY_KINDS = ("call", "meeting", "task", "note", "email")
CHANNELS = ("email", "sms", "whatsapp", "phone", "post")


def money(amount_minor: int, currency: str) -> str:
    return Money(amount_minor, currency).format()


def _blank_to_none(values: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: (None if k in names and v == "" else v) for k, v in values.items()}


# --- contacts ------------------------------------------------------------------------------


@router.get("/crm/contacts")
async def contact_list(
    request: Request,
    session: Session,
    ctx: ContactReader,
    q: str | None = None,
    tag: str | None = None,
    mine: str | None = None,
    cursor: str | None = None,
) -> Response:
    page = await contacts.list_contacts(
        session,
        ctx,
        q=q or None,
        tag=tag or None,
        owner=ctx.user_id if mine else None,
        limit=PAGE_SIZE,
        cursor=cursor or None,
    )
    context = {
        "contacts": page.items,
        "page": page,
        "q": q or "",
        "tag": tag or "",
        "mine": "1" if mine else "",
    }
    return await render(request, "crm/contacts.html", context)


async def _contact_page(
    request: Request,
    session: Session,
    ctx: RequestContext,
    contact_id: uuid.UUID,
    *,
    activity_form: Form | None = None,
    consent_form: Form | None = None,
    timeline_cursor: str | None = None,
    status: int = 200,
) -> Response:
    contact = await contacts.get_contact(session, ctx, contact_id)
    definitions = (await fields.list_fields(session, ctx, entity="contact", limit=200)).items
    known = {d.key for d in definitions}
    custom = [
        (d.label, contact.custom[d.key], d.sensitive)
        for d in definitions
        if d.key in contact.custom
    ]
    custom += [(key, value, False) for key, value in contact.custom.items() if key not in known]
    timeline = None
    if ctx.can("crm.activity.read"):
        timeline = await activities.contact_timeline(
            session, ctx, contact_id, limit=PAGE_SIZE, cursor=timeline_cursor or None
        )
    consents = await privacy.list_consents(session, ctx, contact_id, limit=200)
    context = {
        "contact": contact,
        "custom": custom,
        "timeline": timeline,
        "consents": consents.items,
        "activity_form": activity_form or Form.empty(kind="call"),
        "consent_form": consent_form or Form.empty(channel="email"),
        "activity_kinds": ACTIVITY_KINDS,
        "channels": CHANNELS,
    }
    return await render(request, "crm/contact.html", context, status=status)


@router.get("/crm/contacts/{contact_id}")
async def contact_page(
    request: Request,
    session: Session,
    ctx: ContactReader,
    contact_id: uuid.UUID,
    timeline_cursor: str | None = None,
) -> Response:
    return await _contact_page(request, session, ctx, contact_id, timeline_cursor=timeline_cursor)


@router.post("/crm/contacts/{contact_id}/activities")
async def log_activity(
    request: Request, session: Session, ctx: ActivityCreator, contact_id: uuid.UUID
) -> Response:
    values = await read_form(request)
    await contacts.get_contact(session, ctx, contact_id)
    try:
        body = parse(
            ActivityCreate,
            {
                "kind": values.get("kind", ""),
                "subject": values.get("subject", ""),
                "body": values.get("body") or None,
                "contact_id": contact_id,
                "done": bool(values.get("done")),
            },
        )
        await activities.create_activity(session, ctx, body)
    except NexusError as error:
        form = form_with_error(values, error)
        return await _contact_page(
            request, session, ctx, contact_id, activity_form=form, status=error.status
        )
    url = f"/crm/contacts/{contact_id}"
    return flash(redirect(request, url), gettext(request, "The activity is logged."))


@router.post("/crm/contacts/{contact_id}/consents")
async def record_consent(
    request: Request, session: Session, ctx: ConsentManager, contact_id: uuid.UUID
) -> Response:
    values = await read_form(request)
    try:
        body = parse(ConsentCreate, values)
        await privacy.record_consent(session, ctx, contact_id, body)
    except NexusError as error:
        form = form_with_error(values, error)
        return await _contact_page(
            request, session, ctx, contact_id, consent_form=form, status=error.status
        )
    url = f"/crm/contacts/{contact_id}"
    return flash(redirect(request, url), gettext(request, "The consent is recorded."))


@router.post("/crm/contacts/{contact_id}/consents/{consent_id}/withdraw")
async def withdraw_consent(
    request: Request,
    session: Session,
    ctx: ConsentManager,
    contact_id: uuid.UUID,
    consent_id: uuid.UUID,
) -> Response:
    await privacy.withdraw_consent(session, ctx, contact_id, consent_id)
    url = f"/crm/contacts/{contact_id}"
    return flash(redirect(request, url), gettext(request, "The consent is withdrawn."))


@router.get("/crm/contacts/{contact_id}/export")
async def export_contact(session: Session, ctx: Exporter, contact_id: uuid.UUID) -> Response:
    export = await privacy.export_contact(session, ctx, contact_id)
    body = json.dumps(export.model_dump(mode="json"), ensure_ascii=False, indent=2)
    return Response(
        body,
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="contact-{contact_id}.json"',
            "Cache-Control": "no-store",
        },
    )


@router.post("/crm/contacts/{contact_id}/erase")
async def erase_contact(
    request: Request, session: Session, ctx: Eraser, contact_id: uuid.UUID
) -> Response:
    await privacy.erase_contact(session, ctx, contact_id)
    url = f"/crm/contacts/{contact_id}"
    return flash(redirect(request, url), gettext(request, "The contact is erased."))


# --- imports -------------------------------------------------------------------------------


@router.get("/crm/imports")
async def import_list(
    request: Request, session: Session, ctx: Importer, cursor: str | None = None
) -> Response:
    page = await imports.list_imports(session, ctx, limit=PAGE_SIZE, cursor=cursor or None)
    return await render(request, "crm/imports.html", {"imports": page.items, "page": page})


async def _import_form(request: Request, form: Form, status: int = 200) -> Response:
    return await render(request, "crm/import_new.html", {"form": form}, status=status)


@router.get("/crm/imports/new")
async def new_import(request: Request, ctx: Importer, only_valid: str | None = None) -> Response:
    return await _import_form(request, Form.empty(only_valid="1" if only_valid else ""))


@router.post("/crm/imports/new")
async def upload_import(request: Request, session: Session, ctx: Importer) -> Response:
    form = await request.form(max_files=1, max_fields=10, max_part_size=imports.MAX_BYTES + 1)
    flag = form.get("only_valid")
    only_valid = isinstance(flag, str) and flag.strip().lower() in TRUE
    values = {"only_valid": "1" if only_valid else ""}
    upload = form.get("file")
    try:
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise invalid("body.file", gettext(request, "Choose a CSV file."), "missing")
        content = await upload.read(imports.MAX_BYTES + 1)
        made = await imports.start_import(
            session, ctx, content, filename=upload.filename, only_valid=only_valid
        )
    except NexusError as error:
        return await _import_form(request, form_with_error(values, error), status=error.status)
    url = f"/crm/imports/{made.id}"
    return flash(redirect(request, url), gettext(request, "The file is checked."))


@router.get("/crm/imports/{import_id}")
async def import_page(
    request: Request, session: Session, ctx: Importer, import_id: uuid.UUID
) -> Response:
    found = await imports.get_import(session, ctx, import_id)
    return await render(request, "crm/import.html", {"import": found})


# --- leads ---------------------------------------------------------------------------------


@router.get("/crm/leads")
async def lead_list(
    request: Request,
    session: Session,
    ctx: LeadReader,
    q: str | None = None,
    status: str | None = None,
    cursor: str | None = None,
) -> Response:
    chosen = status if status in LEAD_STATUSES else None
    page = await leads.list_leads(
        session, ctx, q=q or None, status=chosen, limit=PAGE_SIZE, cursor=cursor or None
    )
    context = {
        "leads": page.items,
        "page": page,
        "q": q or "",
        "status": chosen or "",
        "statuses": LEAD_STATUSES,
    }
    return await render(request, "crm/leads.html", context)


async def _lead_page(
    request: Request,
    session: Session,
    ctx: RequestContext,
    lead_id: uuid.UUID,
    *,
    form: Form | None = None,
    status: int = 200,
) -> Response:
    lead = await leads.get_lead(session, ctx, lead_id)
    context = {"lead": lead, "form": form or Form.empty()}
    return await render(request, "crm/lead.html", context, status=status)


@router.get("/crm/leads/{lead_id}")
async def lead_page(
    request: Request, session: Session, ctx: LeadReader, lead_id: uuid.UUID
) -> Response:
    return await _lead_page(request, session, ctx, lead_id)


async def _conversion(
    request: Request, session: Session, ctx: RequestContext, values: dict[str, Any]
) -> LeadConversion:
    title = str(values.get("deal_title") or "").strip()
    amount = str(values.get("deal_amount") or "").strip().replace(",", "")
    if not title:
        if amount:
            message = gettext(request, "Give the deal a title, or leave the amount empty.")
            raise invalid("body.deal_title", message, "missing")
        return parse(LeadConversion, {})
    deal: dict[str, Any] = {"title": title}
    if amount:
        currency = (await tenant_profile.get_profile(session, ctx)).currency
        try:
            minor = Money.from_decimal(Decimal(amount), currency).amount_minor
        except (InvalidOperation, ValueError, OverflowError):
            message = gettext(request, "Write the amount as a number, e.g. 25000.50.")
            raise invalid("body.deal_amount", message, "not_a_number") from None
        deal["amount"] = {"amount_minor": minor}
    return parse(LeadConversion, {"deal": deal})


@router.post("/crm/leads/{lead_id}/convert")
async def convert_lead(
    request: Request, session: Session, ctx: LeadConverter, lead_id: uuid.UUID
) -> Response:
    values = await read_form(request)
    await leads.get_lead(session, ctx, lead_id)
    try:
        body = await _conversion(request, session, ctx, values)
        await leads.convert_lead(session, ctx, lead_id, body)
    except NexusError as error:
        session.expire_all()
        form = form_with_error(values, error)
        for api_name, name in (("deal.title", "deal_title"), ("deal.amount", "deal_amount")):
            for key, reason in list(form.errors.items()):
                if key.startswith(api_name):
                    form.errors.setdefault(name, reason)
        return await _lead_page(request, session, ctx, lead_id, form=form, status=error.status)
    url = f"/crm/leads/{lead_id}"
    return flash(redirect(request, url), gettext(request, "The lead is converted."))


# --- companies -----------------------------------------------------------------------------


@router.get("/crm/companies")
async def company_list(
    request: Request,
    session: Session,
    ctx: CompanyReader,
    q: str | None = None,
    tag: str | None = None,
    cursor: str | None = None,
) -> Response:
    page = await companies.list_companies(
        session, ctx, q=q or None, tag=tag or None, limit=PAGE_SIZE, cursor=cursor or None
    )
    context = {"companies": page.items, "page": page, "q": q or "", "tag": tag or ""}
    return await render(request, "crm/companies.html", context)


@router.get("/crm/companies/{company_id}")
async def company_page(
    request: Request, session: Session, ctx: CompanyReader, company_id: uuid.UUID
) -> Response:
    company = await companies.get_company(session, ctx, company_id)
    people = None
    if ctx.can("crm.contact.read"):
        people = (
            await contacts.list_contacts(session, ctx, company=company_id, limit=PAGE_SIZE)
        ).items
    context = {"company": company, "people": people}
    return await render(request, "crm/company.html", context)


# --- pipelines and the board ---------------------------------------------------------------


@router.get("/crm/pipelines")
async def pipeline_list(
    request: Request, session: Session, ctx: DealReader, cursor: str | None = None
) -> Response:
    page = await pipelines.list_pipelines(session, ctx, limit=PAGE_SIZE, cursor=cursor or None)
    return await render(request, "crm/pipelines.html", {"pipelines": page.items, "page": page})


@router.get("/crm/pipelines/{pipeline_id}/board")
async def board(
    request: Request, session: Session, ctx: DealReader, pipeline_id: uuid.UUID
) -> Response:
    pipeline = await pipelines.get_pipeline(session, ctx, pipeline_id)
    page = await deals.list_deals(
        session,
        ctx,
        filters=deals.DealFilters(pipeline_id=pipeline_id),
        sort="-created_at",
        limit=BOARD_SIZE,
    )
    columns = [
        (stage, [deal for deal in page.items if deal.stage_id == stage.id])
        for stage in pipeline.stages
    ]
    context = {
        "pipeline": pipeline,
        "columns": columns,
        "more": page.next_cursor is not None,
        "money": money,
    }
    return await render(request, "crm/board.html", context)


@router.post("/crm/deals/{deal_id}/move")
async def move_deal(
    request: Request, session: Session, ctx: DealUpdater, deal_id: uuid.UUID
) -> Response:
    values = _blank_to_none(await read_form(request), "lost_reason", "version")
    deal = await deals.get_deal(session, ctx, deal_id)
    board_url = f"/crm/pipelines/{deal.pipeline_id}/board"
    pipeline = await pipelines.get_pipeline(session, ctx, deal.pipeline_id)
    target = next((s for s in pipeline.stages if str(s.id) == values.get("stage_id")), None)
    if target is not None and target.kind == "lost" and not values.get("lost_reason"):
        message = gettext(request, "Say why the deal was lost: use the form on its card.")
        return flash(redirect(request, board_url), message, kind="error")
    sent: dict[str, Any] = {"stage_id": values.get("stage_id"), "version": values.get("version")}
    if target is not None and target.kind == "lost":
        sent["lost_reason"] = values["lost_reason"]
    try:
        await deals.update_deal(session, ctx, deal_id, parse(DealUpdate, sent))
    except NexusError as error:
        # Nothing of the refused move may be kept: the redirect commits the request.
        session.expire_all()
        message = error.detail or error.title
        return flash(redirect(request, board_url), message, kind="error")
    message = gettext(request, "%(title)s is moved.", title=deal.title)
    return flash(redirect(request, board_url), message)
