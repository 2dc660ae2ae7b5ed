"""The CRM's console forms: add, change and delete contacts, companies, deals, pipelines (with
their stages), leads, and the business's custom field definitions.

Every form calls the CRM service and schema the matching `/api/v1/crm/...` endpoint calls, so
rules, record-level access, optimistic concurrency (the record's `version` travels in a hidden
field: a stale one answers 412) and audit are those of the API. Custom fields are drawn from
the business's definitions by kind; sensitive ones only for holders of `crm.sensitive.read`.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import Request, Response
from sqlalchemy import select
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
)
from nexus.core.context import RequestContext
from nexus.core.errors import FieldError, NexusError, ValidationFailed
from nexus.core.money import Money
from nexus.crm.models import Company, Contact
from nexus.crm.schemas import (
    CompanyCreate,
    CompanyUpdate,
    ContactCreate,
    ContactUpdate,
    FieldDefinition,
    FieldDefinitionCreate,
    FieldDefinitionUpdate,
)
from nexus.crm.schemas_deals import DealCreate, DealUpdate, PipelineCreate, PipelineUpdate
from nexus.crm.schemas_leads import LeadCreate, LeadUpdate
from nexus.crm.service import activities, companies, contacts, deals, fields, leads, pipelines
from nexus.crm.service.common import ALL_RECORDS, visible_to
from nexus.identity.service import team, tenant_profile

router = new_router()

ContactCreator = Annotated[RequestContext, require("crm.contact.create")]
ContactUpdater = Annotated[RequestContext, require("crm.contact.update")]
ContactDeleter = Annotated[RequestContext, require("crm.contact.delete")]
CompanyCreator = Annotated[RequestContext, require("crm.company.create")]
CompanyUpdater = Annotated[RequestContext, require("crm.company.update")]
CompanyDeleter = Annotated[RequestContext, require("crm.company.delete")]
DealReader = Annotated[RequestContext, require("crm.deal.read")]
DealCreator = Annotated[RequestContext, require("crm.deal.create")]
DealUpdater = Annotated[RequestContext, require("crm.deal.update")]
DealDeleter = Annotated[RequestContext, require("crm.deal.delete")]
PipelineManager = Annotated[RequestContext, require("crm.pipeline.manage")]
LeadCreator = Annotated[RequestContext, require("crm.lead.create")]
LeadUpdater = Annotated[RequestContext, require("crm.lead.update")]
FieldReader = Annotated[RequestContext, require("crm.contact.read")]
FieldManager = Annotated[RequestContext, require("crm.field.manage")]

SENSITIVE_READ = "crm.sensitive.read"
#: How many records a choice list (owner, company, contact) offers.
CHOICES = 200
ADDRESS = ("line1", "line2", "city", "region", "postal_code", "country")
ENTITIES = ("contact", "company", "deal", "lead")
KINDS = ("text", "number", "date", "choice", "boolean")
STAGE_KINDS = ("open", "won", "lost")
LEAD_STATUSES = ("new", "contacted", "qualified", "disqualified")
INTEGER = re.compile(r"^[+-]?\d+$")
#: A new pipeline's form starts with these stages (and two empty rows).
STARTING_STAGES: tuple[tuple[str, str, str], ...] = (
    ("Qualified", "20", "open"),
    ("Proposal", "60", "open"),
    ("Won", "", "won"),
    ("Lost", "", "lost"),
)


# --- reading form values -------------------------------------------------------------------


def _text(values: dict[str, Any], name: str) -> str | None:
    """A submitted text, stripped; None when blank."""
    raw = values.get(name)
    if isinstance(raw, list):
        raw = raw[-1] if raw else ""
    text = str(raw or "").strip()
    return text or None


def _tags(values: dict[str, Any]) -> list[str]:
    """`vip, retail` → ["vip", "retail"]."""
    return [tag.strip() for tag in str(values.get("tags") or "").split(",") if tag.strip()]


def _address(values: dict[str, Any]) -> dict[str, str] | None:
    found = {part: _text(values, f"address.{part}") for part in ADDRESS}
    if found["country"]:
        found["country"] = found["country"].upper()
    kept = {part: value for part, value in found.items() if value}
    return kept or None


def _address_values(address: dict[str, Any] | None) -> dict[str, str]:
    return {f"address.{part}": str(value) for part, value in (address or {}).items()}


def _version(values: dict[str, Any]) -> str | None:
    return _text(values, "version")


def _checked(values: dict[str, Any], name: str) -> bool:
    return _text(values, name) is not None


@dataclasses.dataclass(frozen=True)
class _Field:
    """A custom field as a form draws it. `write_only`: a sensitive field of a caller without
    `crm.sensitive.read`, who may set its value (a receptionist noting an allergy) but never
    sees it; left blank, the value held is kept."""

    definition: FieldDefinition
    write_only: bool = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.definition, name)


async def _definitions(session: AsyncSession, ctx: RequestContext, entity: str) -> list[_Field]:
    """The custom fields of `entity` the caller may fill, in their order (sensitive ones
    write-only without `crm.sensitive.read`; leads have none)."""
    found = (await fields.list_fields(session, ctx, entity=entity, limit=200)).items
    if entity == "lead":
        found = [d for d in found if not d.sensitive]
    blind = not ctx.can(SENSITIVE_READ)
    ordered = sorted(found, key=lambda d: (d.position, d.created_at))
    return [_Field(d, write_only=blind and d.sensitive) for d in ordered]


def _custom(
    request: Request,
    definitions: list[_Field],
    values: dict[str, Any],
    *,
    editing: bool,
) -> dict[str, Any]:
    """The custom values of the form, typed by each field's kind. A blank value is left out of
    a new record and clears the value of one being changed; an unticked box is false."""
    sent: dict[str, Any] = {}
    problems: list[FieldError] = []
    for definition in definitions:
        name = f"custom.{definition.key}"
        if definition.write_only:
            # Blank keeps the value held (which this caller cannot see); booleans come as a
            # choice of yes or no.
            chosen = _text(values, name)
            if chosen is None:
                continue
            if definition.kind == "boolean":
                sent[definition.key] = chosen == "true"
                continue
        if definition.kind == "boolean":
            sent[definition.key] = _checked(values, name)
            continue
        text = _text(values, name)
        if text is None:
            if editing:
                sent[definition.key] = None
            continue
        if definition.kind == "number":
            try:
                sent[definition.key] = int(text) if INTEGER.match(text) else float(text)
            except ValueError:
                reason = gettext(request, "Write a number, e.g. 42 or 3.5.")
                problems.append(FieldError(f"body.{name}", reason, "not_a_number"))
            continue
        sent[definition.key] = text
    if problems:
        raise ValidationFailed(errors=problems)
    return sent


def _custom_values(definitions: list[_Field], held: dict[str, Any]) -> dict[str, str]:
    """A record's custom values as the form shows them."""
    shown: dict[str, str] = {}
    for definition in definitions:
        value = held.get(definition.key)
        if value is None:
            continue
        if definition.kind == "boolean":
            shown[f"custom.{definition.key}"] = "1" if value is True else ""
        else:
            shown[f"custom.{definition.key}"] = str(value)
    return shown


def _failed(values: dict[str, Any], error: NexusError, request: Request) -> Form:
    """The form again with the problem: a stale version says so plainly, and list fields'
    errors (`tags.0`) show on their input (`tags`)."""
    form = form_with_error(values, error)
    for name in list(form.errors):
        head = name.split(".")[0]
        if head in ("tags", "choices"):
            form.errors.setdefault(head, form.errors[name])
    if error.status == 412:
        form.message = gettext(
            request,
            "Someone changed this record after you opened it. Reload the page to see "
            "their changes, then make yours again.",
        )
    return form


async def _form_page(
    request: Request, template: str, context: dict[str, Any], status: int
) -> Response:
    """A form page; after a 412 it links to the form as it is now (the same address)."""
    reload_url = request.url.path if status == 412 else None
    return await render(request, template, {**context, "reload_url": reload_url}, status=status)


def _existing(error: NexusError | None) -> str | None:
    """The id of the record a 409 says is a duplicate."""
    if error is None or error.status != 409:
        return None
    found = error.extra.get("existing_id")
    return str(found) if found else None


async def _owners(session: AsyncSession, ctx: RequestContext) -> list[tuple[str, str]] | None:
    """Who a record may be given to; None when the caller may only own records themself."""
    if not ctx.can(ALL_RECORDS):
        return None
    page = await team.list_members(session, ctx, status="active", limit=CHOICES)
    return [(str(m.user_id), m.name or m.email) for m in page.items]


async def _records(
    session: AsyncSession, ctx: RequestContext, model: Any, current: uuid.UUID | None
) -> list[tuple[str, str]]:
    """The records (contacts or companies) a deal or contact may point at, by name: only
    names are read, so no sensitive value is revealed (nor a read of one audited)."""
    if model is Contact:
        columns = [Contact.id, Contact.first_name, Contact.last_name]
    else:
        columns = [Company.id, Company.name]
    live = (model.deleted_at.is_(None), visible_to(ctx, model.owner_id.expression))
    statement = select(*columns).where(*live).order_by(model.search_name).limit(CHOICES)
    rows = list((await session.execute(statement)).all())
    if current is not None and all(row[0] != current for row in rows):
        linked = select(*columns).where(model.id == current, *live)
        rows += list((await session.execute(linked)).all())
    return [(str(row[0]), " ".join(str(part) for part in row[1:] if part)) for row in rows]


# --- contacts ------------------------------------------------------------------------------


async def _contact_form(
    request: Request,
    session: AsyncSession,
    ctx: RequestContext,
    form: Form,
    *,
    contact: Any = None,
    error: NexusError | None = None,
    definitions: list[_Field] | None = None,
) -> Response:
    if definitions is None:
        definitions = await _definitions(session, ctx, "contact")
    chosen = contact.company_id if contact is not None else None
    context = {
        "form": form,
        "contact": contact,
        "definitions": definitions,
        "owners": await _owners(session, ctx),
        "companies": (
            await _records(session, ctx, Company, chosen) if ctx.can("crm.company.read") else None
        ),
        "existing_id": _existing(error),
    }
    return await _form_page(
        request, "crm/contact_form.html", context, error.status if error else 200
    )


def _contact_fields(
    request: Request, definitions: list[_Field], values: dict[str, Any], *, editing: bool
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "first_name": values.get("first_name", ""),
        "last_name": _text(values, "last_name") or "",
        "email": _text(values, "email"),
        "phone": _text(values, "phone"),
        "job_title": _text(values, "job_title"),
        "address": _address(values),
        "tags": _tags(values),
        "custom": _custom(request, definitions, values, editing=editing),
    }
    if "company_id" in values:
        body["company_id"] = _text(values, "company_id")
    if _text(values, "owner_id"):
        body["owner_id"] = _text(values, "owner_id")
    return body


@router.get("/crm/contacts/new")
async def new_contact(request: Request, session: Session, ctx: ContactCreator) -> Response:
    return await _contact_form(request, session, ctx, Form.empty())


@router.post("/crm/contacts/new")
async def create_contact(request: Request, session: Session, ctx: ContactCreator) -> Response:
    values = await read_form(request)
    definitions = await _definitions(session, ctx, "contact")
    try:
        body = _contact_fields(request, definitions, values, editing=False)
        made = await contacts.create_contact(session, ctx, parse(ContactCreate, body))
    except NexusError as error:
        form = _failed(values, error, request)
        return await _contact_form(
            request, session, ctx, form, error=error, definitions=definitions
        )
    url = f"/crm/contacts/{made.id}"
    return flash(redirect(request, url), gettext(request, "The contact is added."))


@router.get("/crm/contacts/{contact_id}/edit")
async def edit_contact(
    request: Request, session: Session, ctx: ContactUpdater, contact_id: uuid.UUID
) -> Response:
    contact = await contacts.get_contact(session, ctx, contact_id)
    definitions = await _definitions(session, ctx, "contact")
    form = Form.empty(
        first_name=contact.first_name,
        last_name=contact.last_name,
        email=contact.email or "",
        phone=contact.phone or "",
        job_title=contact.job_title or "",
        company_id=str(contact.company_id or ""),
        owner_id=str(contact.owner_id or ""),
        tags=", ".join(contact.tags),
        version=str(contact.version),
        **_address_values(contact.address),
        **_custom_values(definitions, contact.custom),
    )
    return await _contact_form(
        request, session, ctx, form, contact=contact, definitions=definitions
    )


@router.post("/crm/contacts/{contact_id}/edit")
async def update_contact(
    request: Request, session: Session, ctx: ContactUpdater, contact_id: uuid.UUID
) -> Response:
    values = await read_form(request)
    contact = await contacts.get_contact(session, ctx, contact_id)
    definitions = await _definitions(session, ctx, "contact")
    try:
        body = _contact_fields(request, definitions, values, editing=True)
        body["version"] = _version(values)
        await contacts.update_contact(session, ctx, contact_id, parse(ContactUpdate, body))
    except NexusError as error:
        form = _failed(values, error, request)
        return await _contact_form(
            request, session, ctx, form, contact=contact, error=error, definitions=definitions
        )
    url = f"/crm/contacts/{contact_id}"
    return flash(redirect(request, url), gettext(request, "The contact is saved."))


@router.post("/crm/contacts/{contact_id}/delete")
async def delete_contact(
    request: Request, session: Session, ctx: ContactDeleter, contact_id: uuid.UUID
) -> Response:
    await contacts.delete_contact(session, ctx, contact_id)
    return flash(redirect(request, "/crm/contacts"), gettext(request, "The contact is deleted."))


# --- companies -----------------------------------------------------------------------------


async def _company_form(
    request: Request,
    session: AsyncSession,
    ctx: RequestContext,
    form: Form,
    *,
    company: Any = None,
    error: NexusError | None = None,
    definitions: list[_Field] | None = None,
) -> Response:
    if definitions is None:
        definitions = await _definitions(session, ctx, "company")
    context = {
        "form": form,
        "company": company,
        "definitions": definitions,
        "owners": await _owners(session, ctx),
        "existing_id": _existing(error),
    }
    return await _form_page(
        request, "crm/company_form.html", context, error.status if error else 200
    )


def _company_fields(
    request: Request, definitions: list[_Field], values: dict[str, Any], *, editing: bool
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": values.get("name", ""),
        "domain": _text(values, "domain"),
        "email": _text(values, "email"),
        "phone": _text(values, "phone"),
        "website": _text(values, "website"),
        "industry": _text(values, "industry"),
        "address": _address(values),
        "tags": _tags(values),
        "custom": _custom(request, definitions, values, editing=editing),
    }
    if _text(values, "owner_id"):
        body["owner_id"] = _text(values, "owner_id")
    return body


@router.get("/crm/companies/new")
async def new_company(request: Request, session: Session, ctx: CompanyCreator) -> Response:
    return await _company_form(request, session, ctx, Form.empty())


@router.post("/crm/companies/new")
async def create_company(request: Request, session: Session, ctx: CompanyCreator) -> Response:
    values = await read_form(request)
    definitions = await _definitions(session, ctx, "company")
    try:
        body = _company_fields(request, definitions, values, editing=False)
        made = await companies.create_company(session, ctx, parse(CompanyCreate, body))
    except NexusError as error:
        form = _failed(values, error, request)
        return await _company_form(
            request, session, ctx, form, error=error, definitions=definitions
        )
    url = f"/crm/companies/{made.id}"
    return flash(redirect(request, url), gettext(request, "The company is added."))


@router.get("/crm/companies/{company_id}/edit")
async def edit_company(
    request: Request, session: Session, ctx: CompanyUpdater, company_id: uuid.UUID
) -> Response:
    company = await companies.get_company(session, ctx, company_id)
    definitions = await _definitions(session, ctx, "company")
    form = Form.empty(
        name=company.name,
        domain=company.domain or "",
        email=company.email or "",
        phone=company.phone or "",
        website=company.website or "",
        industry=company.industry or "",
        owner_id=str(company.owner_id or ""),
        tags=", ".join(company.tags),
        version=str(company.version),
        **_address_values(company.address),
        **_custom_values(definitions, company.custom),
    )
    return await _company_form(
        request, session, ctx, form, company=company, definitions=definitions
    )


@router.post("/crm/companies/{company_id}/edit")
async def update_company(
    request: Request, session: Session, ctx: CompanyUpdater, company_id: uuid.UUID
) -> Response:
    values = await read_form(request)
    company = await companies.get_company(session, ctx, company_id)
    definitions = await _definitions(session, ctx, "company")
    try:
        body = _company_fields(request, definitions, values, editing=True)
        body["version"] = _version(values)
        await companies.update_company(session, ctx, company_id, parse(CompanyUpdate, body))
    except NexusError as error:
        form = _failed(values, error, request)
        return await _company_form(
            request, session, ctx, form, company=company, error=error, definitions=definitions
        )
    url = f"/crm/companies/{company_id}"
    return flash(redirect(request, url), gettext(request, "The company is saved."))


@router.post("/crm/companies/{company_id}/delete")
async def delete_company(
    request: Request, session: Session, ctx: CompanyDeleter, company_id: uuid.UUID
) -> Response:
    await companies.delete_company(session, ctx, company_id)
    message = gettext(request, "The company is deleted.")
    return flash(redirect(request, "/crm/companies"), message)


# --- deals ---------------------------------------------------------------------------------


def _money(request: Request, values: dict[str, Any], default_currency: str) -> dict[str, Any]:
    """The amount and currency fields as the API's `amount` (minor units)."""
    currency = (_text(values, "currency") or default_currency).upper()
    amount = (_text(values, "amount") or "0").replace(",", "")
    try:
        minor = Money.from_decimal(Decimal(amount), currency).amount_minor
    except InvalidOperation:
        reason = gettext(request, "Write the amount as a number, e.g. 25000.50.")
        raise ValidationFailed(errors=[FieldError("body.amount", reason, "not_a_number")]) from None
    except ValueError as exc:
        field = "body.amount" if "precision" in str(exc) else "body.currency"
        reason = (
            gettext(request, "The currency has fewer decimal places.")
            if field == "body.amount"
            else gettext(request, "Use a three-letter currency code, e.g. NGN.")
        )
        raise ValidationFailed(errors=[FieldError(field, reason, "invalid")]) from None
    return {"amount_minor": minor, "currency": currency}


async def _deal_form(
    request: Request,
    session: AsyncSession,
    ctx: RequestContext,
    form: Form,
    pipeline: Any,
    *,
    deal: Any = None,
    status: int = 200,
) -> Response:
    context = {
        "form": form,
        "deal": deal,
        "pipeline": pipeline,
        "owners": await _owners(session, ctx),
        "contacts": (
            await _records(session, ctx, Contact, deal.contact_id if deal else None)
            if ctx.can("crm.contact.read")
            else None
        ),
        "companies": (
            await _records(session, ctx, Company, deal.company_id if deal else None)
            if ctx.can("crm.company.read")
            else None
        ),
    }
    return await _form_page(request, "crm/deal_form.html", context, status)


def _fold_amount(form: Form) -> Form:
    """`amount.amount_minor` and `amount.currency` errors show on the amount and currency."""
    for name, reason in list(form.errors.items()):
        if name.startswith("amount.currency"):
            form.errors.setdefault("currency", reason)
        elif name.startswith("amount"):
            form.errors.setdefault("amount", reason)
    return form


async def _deal_fields(
    request: Request,
    session: AsyncSession,
    ctx: RequestContext,
    values: dict[str, Any],
    pipeline: Any,
) -> dict[str, Any]:
    currency = (await tenant_profile.get_profile(session, ctx)).currency
    stages = pipeline.stages if pipeline is not None else []
    stage = next((s for s in stages if str(s.id) == values.get("stage_id")), None)
    body: dict[str, Any] = {
        "title": values.get("title", ""),
        "stage_id": values.get("stage_id") or None,
        "amount": _money(request, values, currency),
        "expected_close": _text(values, "expected_close"),
        "lost_reason": _text(values, "lost_reason") if stage and stage.kind == "lost" else None,
    }
    for name in ("contact_id", "company_id"):
        if name in values:
            body[name] = _text(values, name)
    if _text(values, "owner_id"):
        body["owner_id"] = _text(values, "owner_id")
    return body


async def _chosen_pipeline(
    session: AsyncSession, ctx: RequestContext, pipeline_id: str | None
) -> Any:
    """The pipeline named by the form or the address, else the business's default."""
    if pipeline_id:
        try:
            return await pipelines.get_pipeline(session, ctx, uuid.UUID(pipeline_id))
        except ValueError:
            pass
    found = await pipelines.default_pipeline(session)
    return await pipelines.get_pipeline(session, ctx, found.id) if found else None


@router.get("/crm/deals/new")
async def new_deal(
    request: Request, session: Session, ctx: DealCreator, pipeline_id: str | None = None
) -> Response:
    pipeline = await _chosen_pipeline(session, ctx, pipeline_id)
    currency = (await tenant_profile.get_profile(session, ctx)).currency
    form = Form.empty(currency=currency)
    return await _deal_form(request, session, ctx, form, pipeline)


@router.post("/crm/deals/new")
async def create_deal(request: Request, session: Session, ctx: DealCreator) -> Response:
    values = await read_form(request)
    pipeline = await _chosen_pipeline(session, ctx, _text(values, "pipeline_id"))
    try:
        body = await _deal_fields(request, session, ctx, values, pipeline)
        body["pipeline_id"] = str(pipeline.id) if pipeline else None
        made = await deals.create_deal(session, ctx, parse(DealCreate, body))
    except NexusError as error:
        form = _fold_amount(_failed(values, error, request))
        return await _deal_form(request, session, ctx, form, pipeline, status=error.status)
    url = f"/crm/deals/{made.id}"
    return flash(redirect(request, url), gettext(request, "The deal is added."))


@router.get("/crm/deals/{deal_id}")
async def deal_page(
    request: Request, session: Session, ctx: DealReader, deal_id: uuid.UUID
) -> Response:
    deal = await deals.get_deal(session, ctx, deal_id)
    pipeline = await pipelines.get_pipeline(session, ctx, deal.pipeline_id)
    stage = next((s for s in pipeline.stages if s.id == deal.stage_id), None)
    found = None
    if ctx.can("crm.activity.read"):
        found = (await activities.list_activities(session, ctx, deal_id=deal_id, limit=50)).items
    amount = Money(deal.amount.amount_minor, deal.amount.currency).format()
    context = {
        "deal": deal,
        "pipeline": pipeline,
        "stage": stage,
        "amount": amount,
        "activities": found,
    }
    return await render(request, "crm/deal.html", context)


@router.get("/crm/deals/{deal_id}/edit")
async def edit_deal(
    request: Request, session: Session, ctx: DealUpdater, deal_id: uuid.UUID
) -> Response:
    deal = await deals.get_deal(session, ctx, deal_id)
    pipeline = await pipelines.get_pipeline(session, ctx, deal.pipeline_id)
    form = Form.empty(
        title=deal.title,
        stage_id=str(deal.stage_id),
        amount=str(Money(deal.amount.amount_minor, deal.amount.currency).to_decimal()),
        currency=deal.amount.currency,
        expected_close=deal.expected_close.isoformat() if deal.expected_close else "",
        contact_id=str(deal.contact_id or ""),
        company_id=str(deal.company_id or ""),
        owner_id=str(deal.owner_id or ""),
        lost_reason=deal.lost_reason or "",
        version=str(deal.version),
    )
    return await _deal_form(request, session, ctx, form, pipeline, deal=deal)


@router.post("/crm/deals/{deal_id}/edit")
async def update_deal(
    request: Request, session: Session, ctx: DealUpdater, deal_id: uuid.UUID
) -> Response:
    values = await read_form(request)
    deal = await deals.get_deal(session, ctx, deal_id)
    pipeline = await pipelines.get_pipeline(session, ctx, deal.pipeline_id)
    try:
        body = await _deal_fields(request, session, ctx, values, pipeline)
        body["version"] = _version(values)
        await deals.update_deal(session, ctx, deal_id, parse(DealUpdate, body))
    except NexusError as error:
        form = _fold_amount(_failed(values, error, request))
        return await _deal_form(
            request, session, ctx, form, pipeline, deal=deal, status=error.status
        )
    url = f"/crm/deals/{deal_id}"
    return flash(redirect(request, url), gettext(request, "The deal is saved."))


@router.post("/crm/deals/{deal_id}/delete")
async def delete_deal(
    request: Request, session: Session, ctx: DealDeleter, deal_id: uuid.UUID
) -> Response:
    deal = await deals.get_deal(session, ctx, deal_id)
    await deals.delete_deal(session, ctx, deal_id)
    url = f"/crm/pipelines/{deal.pipeline_id}/board"
    return flash(redirect(request, url), gettext(request, "The deal is deleted."))


# --- pipelines -----------------------------------------------------------------------------


def _stage_rows(values: dict[str, Any]) -> list[dict[str, Any]]:
    """The stage rows of the form in order; rows of new stages left without a name are
    dropped (so the form may offer empty rows)."""
    try:
        count = min(int(str(values.get("stage_count") or "0")), 60)
    except ValueError:
        count = 0
    rows = []
    for index in range(count):
        row = {
            "id": _text(values, f"stages.{index}.id"),
            "name": str(values.get(f"stages.{index}.name") or "").strip(),
            "probability": _text(values, f"stages.{index}.probability"),
            "kind": _text(values, f"stages.{index}.kind") or "open",
        }
        if row["id"] or row["name"]:
            rows.append(row)
    return rows


def _stage_inputs(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if v is not None} for row in rows]


def _form_of_rows(name: str, rows: list[dict[str, Any]], **values: Any) -> Form:
    found: dict[str, Any] = {"name": name, **values}
    for index, row in enumerate(rows):
        for key, value in row.items():
            found[f"stages.{index}.{key}"] = "" if value is None else str(value)
    return Form(found, {})


async def _pipeline_form(
    request: Request,
    form: Form,
    rows: list[dict[str, Any]],
    *,
    pipeline: Any = None,
    status: int = 200,
) -> Response:
    blank = {"id": None, "name": "", "probability": None, "kind": "open"}
    shown = rows + [dict(blank) for _ in range(2 if pipeline is None else 1)]
    context = {"form": form, "pipeline": pipeline, "rows": shown, "stage_kinds": STAGE_KINDS}
    return await _form_page(request, "crm/pipeline_form.html", context, status)


@router.get("/crm/pipelines/new")
async def new_pipeline(request: Request, ctx: PipelineManager) -> Response:
    rows: list[dict[str, Any]] = [
        {"id": None, "name": name, "probability": probability or None, "kind": kind}
        for name, probability, kind in STARTING_STAGES
    ]
    return await _pipeline_form(request, _form_of_rows("", rows), rows)


@router.post("/crm/pipelines/new")
async def create_pipeline(request: Request, session: Session, ctx: PipelineManager) -> Response:
    values = await read_form(request)
    rows = _stage_rows(values)
    try:
        body = {"name": values.get("name", ""), "stages": _stage_inputs(rows)}
        made = await pipelines.create_pipeline(session, ctx, parse(PipelineCreate, body))
    except NexusError as error:
        form = form_with_error(_form_of_rows(str(values.get("name", "")), rows).values, error)
        return await _pipeline_form(request, form, rows, status=error.status)
    url = f"/crm/pipelines/{made.id}/edit"
    return flash(redirect(request, url), gettext(request, "The pipeline is created."))


@router.get("/crm/pipelines/{pipeline_id}/edit")
async def edit_pipeline(
    request: Request, session: Session, ctx: PipelineManager, pipeline_id: uuid.UUID
) -> Response:
    pipeline = await pipelines.get_pipeline(session, ctx, pipeline_id)
    rows = [
        {"id": str(s.id), "name": s.name, "probability": str(s.probability), "kind": s.kind}
        for s in pipeline.stages
    ]
    form = _form_of_rows(pipeline.name, rows, version=str(pipeline.version))
    return await _pipeline_form(request, form, rows, pipeline=pipeline)


def _apply_action(action: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`up:2`, `down:2` or `remove:2` applied to the stage rows (`save` keeps them)."""
    verb, _, place = action.partition(":")
    if not place.isdigit() or int(place) >= len(rows):
        return rows
    index = int(place)
    rows = list(rows)
    if verb == "up" and index > 0:
        rows[index - 1], rows[index] = rows[index], rows[index - 1]
    elif verb == "down" and index < len(rows) - 1:
        rows[index + 1], rows[index] = rows[index], rows[index + 1]
    elif verb == "remove":
        del rows[index]
    return rows


@router.post("/crm/pipelines/{pipeline_id}/edit")
async def update_pipeline(
    request: Request, session: Session, ctx: PipelineManager, pipeline_id: uuid.UUID
) -> Response:
    values = await read_form(request)
    pipeline = await pipelines.get_pipeline(session, ctx, pipeline_id)
    action = str(values.get("action") or "save")
    rows = _apply_action(action, _stage_rows(values))
    name = str(values.get("name", ""))
    try:
        body: dict[str, Any] = {
            "name": name,
            "stages": _stage_inputs(rows),
            "version": _version(values),
        }
        if action == "default":
            body["is_default"] = True
        await pipelines.update_pipeline(session, ctx, pipeline_id, parse(PipelineUpdate, body))
    except NexusError as error:
        form = _failed(_form_of_rows(name, rows, version=_version(values)).values, error, request)
        return await _pipeline_form(request, form, rows, pipeline=pipeline, status=error.status)
    url = f"/crm/pipelines/{pipeline_id}/edit"
    return flash(redirect(request, url), gettext(request, "The pipeline is saved."))


@router.post("/crm/pipelines/{pipeline_id}/delete")
async def delete_pipeline(
    request: Request, session: Session, ctx: PipelineManager, pipeline_id: uuid.UUID
) -> Response:
    try:
        await pipelines.delete_pipeline(session, ctx, pipeline_id)
    except NexusError as error:
        if error.status != 409:
            raise
        url = f"/crm/pipelines/{pipeline_id}/edit"
        message = gettext(request, "A pipeline that ever held a deal cannot be deleted.")
        return flash(redirect(request, url), message, kind="error")
    message = gettext(request, "The pipeline is deleted.")
    return flash(redirect(request, "/crm/pipelines"), message)


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


# --- custom field settings -----------------------------------------------------------------


def _choices(values: dict[str, Any]) -> list[str]:
    return [c.strip() for c in str(values.get("choices") or "").split(",") if c.strip()]


async def _field_settings(
    request: Request,
    session: AsyncSession,
    ctx: RequestContext,
    form: Form,
    *,
    status: int = 200,
) -> Response:
    found = (await fields.list_fields(session, ctx, limit=200)).items
    groups = [(entity, [d for d in found if d.entity == entity]) for entity in ENTITIES]
    context = {"groups": groups, "form": form, "entities": ENTITIES, "kinds": KINDS}
    return await _form_page(request, "crm/fields.html", context, status)


@router.get("/crm/settings/fields")
async def field_settings(request: Request, session: Session, ctx: FieldReader) -> Response:
    form = Form.empty(entity="contact", kind="text")
    return await _field_settings(request, session, ctx, form)


@router.post("/crm/settings/fields")
async def create_field(request: Request, session: Session, ctx: FieldManager) -> Response:
    values = await read_form(request)
    try:
        body = {
            "entity": values.get("entity", ""),
            "key": str(values.get("key") or "").strip(),
            "label": values.get("label", ""),
            "kind": values.get("kind", ""),
            "choices": _choices(values),
            "required": _checked(values, "required"),
            "sensitive": _checked(values, "sensitive"),
        }
        made = await fields.create_field(session, ctx, parse(FieldDefinitionCreate, body))
    except NexusError as error:
        form = _failed(values, error, request)
        return await _field_settings(request, session, ctx, form, status=error.status)
    message = gettext(request, "The field %(label)s is added.", label=made.label)
    return flash(redirect(request, "/crm/settings/fields"), message)


async def _field_form(
    request: Request, definition: FieldDefinition, form: Form, *, status: int = 200
) -> Response:
    context = {"definition": definition, "form": form}
    return await _form_page(request, "crm/field_form.html", context, status)


@router.get("/crm/settings/fields/{field_id}/edit")
async def edit_field(
    request: Request, session: Session, ctx: FieldManager, field_id: uuid.UUID
) -> Response:
    definition = await fields.get_field(session, ctx, field_id)
    form = Form.empty(
        label=definition.label,
        required="1" if definition.required else "",
        choices=", ".join(definition.choices),
        version=str(definition.version),
    )
    return await _field_form(request, definition, form)


@router.post("/crm/settings/fields/{field_id}/edit")
async def update_field(
    request: Request, session: Session, ctx: FieldManager, field_id: uuid.UUID
) -> Response:
    values = await read_form(request)
    definition = await fields.get_field(session, ctx, field_id)
    try:
        body: dict[str, Any] = {
            "label": values.get("label", ""),
            "required": _checked(values, "required"),
            "version": _version(values),
        }
        if definition.kind == "choice":
            body["choices"] = _choices(values)
        await fields.update_field(session, ctx, field_id, parse(FieldDefinitionUpdate, body))
    except NexusError as error:
        form = _failed(values, error, request)
        return await _field_form(request, definition, form, status=error.status)
    message = gettext(request, "The field %(label)s is saved.", label=definition.label)
    return flash(redirect(request, "/crm/settings/fields"), message)


@router.post("/crm/settings/fields/{field_id}/delete")
async def delete_field(
    request: Request, session: Session, ctx: FieldManager, field_id: uuid.UUID
) -> Response:
    definition = await fields.get_field(session, ctx, field_id)
    await fields.delete_field(session, ctx, field_id)
    message = gettext(request, "The field %(label)s is deleted.", label=definition.label)
    return flash(redirect(request, "/crm/settings/fields"), message)
