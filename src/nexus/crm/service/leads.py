"""Leads: people or businesses who may buy, before they are contacts; and their conversion.

Record-level access as for contacts: without `crm.record.all` one sees and changes only the
leads one owns (others' are 404). Converting a lead makes, in one transaction, a contact (or
reuses the live contact with the lead's e-mail or phone), a company when the lead names one
(or reuses the live company of that name, case-insensitively) and, if asked, a deal in the
first open stage of a pipeline. A lead converts once.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from nexus.core.audit import record
from nexus.core.concurrency import check_version, expected_version
from nexus.core.context import RequestContext
from nexus.core.errors import FieldError, ValidationFailed, invalid
from nexus.core.money import is_currency
from nexus.core.pagination import paginate
from nexus.core.types import utcnow
from nexus.crm import schemas as crm_schemas
from nexus.crm import schemas_leads as schemas
from nexus.crm.errors_leads import LeadAlreadyConverted, LeadNotFound
from nexus.crm.models import Company, Contact, Deal, Lead, Pipeline, Stage
from nexus.crm.provision import DEFAULT_PIPELINE, provision
from nexus.crm.service import companies, contacts, fields
from nexus.crm.service.common import (
    ALL_RECORDS,
    email_key,
    normalise_email,
    normalise_phone,
    search_key,
    tenant_country,
    visible_to,
)
from nexus.identity.errors import UserNotFound
from nexus.identity.service import team, tenant_profile

ENTITY = "lead"
#: Fields a PATCH may clear with `null`.
CLEARABLE = frozenset({"email", "phone", "company_name", "source", "notes", "owner_id"})


def view(row: Lead) -> schemas.Lead:
    return schemas.Lead.model_validate(row)


async def _lead(
    session: AsyncSession, ctx: RequestContext, lead_id: uuid.UUID, *, lock: bool = False
) -> Lead:
    statement = select(Lead).where(Lead.id == lead_id, visible_to(ctx, Lead.owner_id.expression))
    if lock:
        statement = statement.with_for_update()
    row = await session.scalar(statement)
    if row is None:
        raise LeadNotFound()
    return row


async def _owner(
    session: AsyncSession, ctx: RequestContext, owner_id: uuid.UUID | None
) -> uuid.UUID | None:
    """A member of the business; without `crm.record.all`, only oneself."""
    if owner_id is None or owner_id == ctx.user_id:
        return owner_id
    if not ctx.can(ALL_RECORDS):
        raise invalid("body.owner_id", "You may only give records to yourself", "not_allowed")
    try:
        await team.get_member(session, ctx, owner_id)
    except UserNotFound:
        raise invalid("body.owner_id", "No such member of the business", "unknown_owner") from None
    return owner_id


async def _custom(
    session: AsyncSession, sent: dict[str, Any], held: dict[str, Any] | None = None
) -> dict[str, Any]:
    values = await fields.check_values(
        session, ENTITY, sent, held=fields.held_values(session, held or {}, None)
    )
    if values.sensitive:
        key = sorted(values.sensitive)[0]
        raise invalid(
            f"body.custom.{key}", "Sensitive values are kept on contacts, not leads", "sensitive"
        )
    return dict(values.plain)


async def list_leads(
    session: AsyncSession,
    ctx: RequestContext,
    *,
    q: str | None = None,
    status: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> schemas.Page[schemas.Lead]:
    """Leads the caller may see, newest first; one query whatever the page size."""
    page = await paginate(
        session,
        leads_statement(ctx, q=q, status=status),
        sort=Lead.created_at,
        id_column=Lead.id,
        limit=limit,
        cursor=cursor,
        descending=True,
    )
    return schemas.Page(items=[view(row) for row in page.items], next_cursor=page.next_cursor)


def leads_statement(ctx: RequestContext, *, q: str | None, status: str | None) -> Select[Any]:
    """The leads list's SELECT (record-level access and filters), unordered: shared with the
    CSV export."""
    statement = select(Lead).where(visible_to(ctx, Lead.owner_id.expression))
    if q and q.strip():
        term = search_key(q)
        conditions = [
            Lead.search_name.contains(term, autoescape=True),
            Lead.email_key.contains(term, autoescape=True),
        ]
        digits = "".join(ch for ch in q if ch.isdigit())
        if digits:
            conditions.append(Lead.phone.contains(digits.lstrip("0") or digits, autoescape=True))
        statement = statement.where(or_(*conditions))
    if status is not None:
        statement = statement.where(Lead.status == status)
    return statement


async def get_lead(session: AsyncSession, ctx: RequestContext, lead_id: uuid.UUID) -> schemas.Lead:
    return view(await _lead(session, ctx, lead_id))


async def create_lead(
    session: AsyncSession, ctx: RequestContext, data: schemas.LeadCreate
) -> schemas.Lead:
    email = normalise_email(data.email, field="body.email")
    phone = normalise_phone(data.phone, await tenant_country(session, ctx), field="body.phone")
    row = Lead(
        name=data.name,
        search_name=search_key(data.name),
        email=email,
        email_key=email_key(email),
        phone=phone,
        company_name=data.company_name or None,
        source=data.source,
        status=data.status,
        notes=data.notes,
        custom=await _custom(session, data.custom),
        owner_id=await _owner(session, ctx, data.owner_id or ctx.user_id),
    )
    session.add(row)
    await session.flush()
    sent = data.model_dump(exclude_unset=True)
    record(
        session,
        ctx,
        "crm.lead.created",
        target_type="crm_lead",
        target_id=row.id,
        changes=sorted({"name", *sent}),
    )
    return view(row)


async def _changes(
    session: AsyncSession, ctx: RequestContext, row: Lead, data: schemas.LeadUpdate
) -> dict[str, Any]:
    sent: dict[str, Any] = data.model_dump(exclude_unset=True, exclude={"version"})
    for name, value in sent.items():
        if value is None and name not in CLEARABLE and name != "custom":
            raise invalid(f"body.{name}", f"{name} cannot be cleared", "not_nullable")
    wanted: dict[str, Any] = {
        name: sent[name] for name in ("company_name", "source", "status", "notes") if name in sent
    }
    if sent.get("name") is not None:
        wanted |= {"name": sent["name"], "search_name": search_key(sent["name"])}
    if "email" in sent:
        email = normalise_email(sent["email"], field="body.email")
        wanted |= {"email": email, "email_key": email_key(email)}
    if "phone" in sent:
        country = await tenant_country(session, ctx)
        wanted["phone"] = normalise_phone(sent["phone"], country, field="body.phone")
    if sent.get("custom") is not None:
        wanted["custom"] = await _custom(session, sent["custom"], row.custom)
    if "owner_id" in sent:
        wanted["owner_id"] = await _owner(session, ctx, sent["owner_id"])
    return {name: value for name, value in wanted.items() if getattr(row, name) != value}


async def update_lead(
    session: AsyncSession,
    ctx: RequestContext,
    lead_id: uuid.UUID,
    data: schemas.LeadUpdate,
    *,
    if_match: str | None = None,
) -> schemas.Lead:
    """Change a lead (412 on a stale version); a converted lead is kept as it was (409)."""
    row = await _lead(session, ctx, lead_id, lock=True)
    check_version(row.version, expected_version(data.version, if_match))
    if row.status == "converted":
        raise _converted(row)
    changes = await _changes(session, ctx, row, data)
    if changes:
        for name, value in changes.items():
            setattr(row, name, value)
        await session.flush()
        record(
            session,
            ctx,
            "crm.lead.updated",
            target_type="crm_lead",
            target_id=row.id,
            changes=sorted(set(changes) - {"search_name", "email_key"}),
        )
    return view(row)


def _converted(row: Lead) -> LeadAlreadyConverted:
    return LeadAlreadyConverted(
        detail=f"Converted on {row.converted_at:%Y-%m-%d}" if row.converted_at else None,
        extra={"contact_id": str(row.converted_contact_id)},
    )


# --- conversion ----------------------------------------------------------------------------


async def _matching_contact(session: AsyncSession, row: Lead) -> Contact | None:
    """The live contact with the lead's e-mail (case-insensitively) or phone, oldest first."""
    conditions = []
    if row.email_key:
        conditions.append(Contact.email_key == row.email_key)
    if row.phone:
        conditions.append(Contact.phone == row.phone)
    if not conditions:
        return None
    return await session.scalar(
        select(Contact)
        .where(
            or_(*conditions),
            Contact.deleted_at.is_(None),
            Contact.merged_into_id.is_(None),
            Contact.erased_at.is_(None),
        )
        .order_by(Contact.created_at, Contact.id)
        .limit(1)
    )


def _as_lead_error(error: ValidationFailed, prefix: str) -> ValidationFailed:
    """A 422 of the contacts or companies service, naming the lead's fields instead of the
    body that service was given (`body.custom.x` → `lead.custom.x`)."""
    return ValidationFailed(
        detail=error.detail,
        errors=[
            FieldError(item.field.replace("body.", prefix, 1), item.reason, item.code)
            for item in error.errors
        ],
        extra=error.extra,
    )


def _carried(lead_custom: dict[str, Any], definitions: Mapping[str, Any]) -> dict[str, Any]:
    """The lead's custom values whose key is also a field of the record being made."""
    return {key: value for key, value in (lead_custom or {}).items() if key in definitions}


async def _company(
    session: AsyncSession, ctx: RequestContext, row: Lead, owner_id: uuid.UUID | None
) -> tuple[uuid.UUID | None, bool]:
    """The live company of the lead's company name (case-insensitive), or a new one made by
    the companies service (its rules, audit and custom fields)."""
    if not row.company_name:
        return None, False
    found = await session.scalar(
        select(Company.id)
        .where(
            Company.search_name == search_key(row.company_name),
            Company.deleted_at.is_(None),
            Company.merged_into_id.is_(None),
        )
        .order_by(Company.created_at, Company.id)
        .limit(1)
    )
    if found is not None:
        return found, False
    custom = _carried(row.custom, await fields.definitions_of(session, "company"))
    try:
        made = await companies.create_company(
            session,
            ctx,
            crm_schemas.CompanyCreate(name=row.company_name, owner_id=owner_id, custom=custom),
        )
    except ValidationFailed as error:
        raise _as_lead_error(error, "lead.company.") from None
    return made.id, True


async def _contact(
    session: AsyncSession,
    ctx: RequestContext,
    row: Lead,
    company_id: uuid.UUID | None,
    owner_id: uuid.UUID | None,
) -> tuple[uuid.UUID, bool]:
    """The live contact with the lead's e-mail or phone (given the company if it has none), or
    a new one made by the contacts service: the same normalisation, duplicate rule, custom
    fields, audit and `crm.contact.created` event as `POST /crm/contacts`."""
    found = await _matching_contact(session, row)
    if found is not None:
        if found.company_id is None and company_id is not None:
            found.company_id = company_id
            await session.flush()
            record(
                session,
                ctx,
                "crm.contact.updated",
                target_type="crm_contact",
                target_id=found.id,
                changes=["company_id"],
            )
        return found.id, False
    first, _, last = row.name.strip().partition(" ")
    sent: dict[str, Any] = {
        "first_name": first[:100],
        "source": (row.source or "lead")[:100],
        "owner_id": owner_id,
    }
    optional = {
        "last_name": last.strip()[:100],
        "email": row.email,
        "phone": row.phone,
        "company_id": company_id,
        "custom": _carried(row.custom, await fields.definitions_of(session, "contact")),
    }
    sent.update({name: value for name, value in optional.items() if value})
    try:
        made = await contacts.create_contact(
            session, ctx, crm_schemas.ContactCreate.model_validate(sent)
        )
    except ValidationFailed as error:
        raise _as_lead_error(error, "lead.") from None
    return made.id, True


async def _pipeline(
    session: AsyncSession, ctx: RequestContext, pipeline_id: uuid.UUID | None
) -> Pipeline:
    if pipeline_id is not None:
        found = await session.scalar(select(Pipeline).where(Pipeline.id == pipeline_id))
        if found is None:
            raise invalid("body.deal.pipeline_id", "No such pipeline", "unknown_pipeline")
        return found
    statement = select(Pipeline).order_by(
        Pipeline.is_default.desc(), Pipeline.position, Pipeline.id
    )
    found = await session.scalar(statement.limit(1))
    if found is None:
        # A CRM enabled without activation has no pipeline yet: it gets the default one.
        await provision(session, ctx, {"pipelines": [DEFAULT_PIPELINE]})
        found = await session.scalar(statement.limit(1))
    assert found is not None
    return found


async def _deal(
    session: AsyncSession,
    ctx: RequestContext,
    data: schemas.ConversionDeal,
    contact_id: uuid.UUID,
    company_id: uuid.UUID | None,
    owner_id: uuid.UUID | None,
) -> Deal:
    pipeline = await _pipeline(session, ctx, data.pipeline_id)
    stage = await session.scalar(
        select(Stage)
        .where(Stage.pipeline_id == pipeline.id, Stage.kind == "open")
        .order_by(Stage.position, Stage.id)
        .limit(1)
    )
    if stage is None:
        raise invalid("body.deal.pipeline_id", "The pipeline has no open stage", "no_open_stage")
    currency = (data.amount.currency if data.amount else None) or (
        await tenant_profile.locale_of(session, ctx)
    ).currency
    if not is_currency(currency):
        raise invalid("body.deal.amount.currency", f"{currency!r} is not an ISO 4217 code")
    deal = Deal(
        title=data.title,
        pipeline_id=pipeline.id,
        stage_id=stage.id,
        amount_minor=data.amount.amount_minor if data.amount else 0,
        currency=currency,
        contact_id=contact_id,
        company_id=company_id,
        owner_id=owner_id,
    )
    session.add(deal)
    await session.flush()
    record(
        session,
        ctx,
        "crm.deal.created",
        target_type="crm_deal",
        target_id=deal.id,
        changes=["title", "pipeline_id", "stage_id", "amount", "contact_id", "company_id"],
    )
    return deal


async def convert_lead(
    session: AsyncSession, ctx: RequestContext, lead_id: uuid.UUID, data: schemas.LeadConversion
) -> schemas.LeadConverted:
    """Turn the lead into a contact, a company (when it names one) and optionally a deal,
    reusing a matching live contact or company; 409 when it was converted already."""
    row = await _lead(session, ctx, lead_id, lock=True)
    if row.status == "converted":
        raise _converted(row)
    owner_id = row.owner_id or ctx.user_id
    company_id, company_created = await _company(session, ctx, row, owner_id)
    contact_id, contact_created = await _contact(session, ctx, row, company_id, owner_id)
    deal = None
    if data.deal is not None:
        deal = await _deal(session, ctx, data.deal, contact_id, company_id, owner_id)
    row.status = "converted"
    row.converted_contact_id = contact_id
    row.converted_company_id = company_id
    row.converted_deal_id = deal.id if deal else None
    row.converted_at = utcnow()
    await session.flush()
    record(
        session,
        ctx,
        "crm.lead.converted",
        target_type="crm_lead",
        target_id=row.id,
        changes=["status", "converted_contact_id", "converted_company_id", "converted_deal_id"],
    )
    return schemas.LeadConverted(
        lead=view(row),
        contact_id=contact_id,
        contact_created=contact_created,
        company_id=company_id,
        company_created=company_created,
        deal_id=deal.id if deal else None,
    )
