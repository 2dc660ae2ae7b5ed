"""Console forms of contacts and companies."""

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
    CHOICES,
    CompanyCreator,
    CompanyDeleter,
    CompanyUpdater,
    ContactCreator,
    ContactDeleter,
    ContactUpdater,
    _address,
    _address_values,
    _custom,
    _custom_values,
    _definitions,
    _existing,
    _failed,
    _Field,
    _form_page,
    _owners,
    _tags,
    _text,
    _version,
)
from nexus.crm.schemas import (
    CompanyCreate,
    CompanyUpdate,
    ContactCreate,
    ContactUpdate,
)
from nexus.crm.service import companies, contacts

router = new_router()


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
            await companies.choices(session, ctx, current=chosen, limit=CHOICES)
            if ctx.can("crm.company.read")
            else None
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
