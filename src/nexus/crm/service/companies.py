"""Companies: create, read, list, change, soft-delete and merge, with record-level access
(without `crm.record.all` one sees and changes only the companies one owns; others' are 404).

A merged company answers 404 `company_merged` naming the company it was merged into.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from nexus.core.audit import record
from nexus.core.concurrency import check_version, expected_version
from nexus.core.context import RequestContext
from nexus.core.errors import invalid
from nexus.core.pagination import paginate
from nexus.core.types import utcnow
from nexus.crm import schemas
from nexus.crm.errors import CompanyMerged, CompanyNotFound, DuplicateCompany
from nexus.crm.models import Activity, Company, Contact, Deal, Lead
from nexus.crm.service import fields, records
from nexus.crm.service.common import (
    email_key,
    normalise_email,
    normalise_phone,
    search_key,
    tenant_country,
    visible_to,
)

ENTITY = "company"
#: Fields a PATCH may clear with `null`.
CLEARABLE = frozenset({"domain", "email", "phone", "website", "industry", "address"})
#: Fields a merge fills from the merged company where the kept one has none.
FILLABLE = ("domain", "email", "email_key", "phone", "website", "industry", "address")


def _view(row: Company, sensitive: dict[str, Any] | None) -> schemas.Company:
    return schemas.Company(
        id=row.id,
        name=row.name,
        domain=row.domain,
        email=row.email,
        phone=row.phone,
        website=row.website,
        industry=row.industry,
        address=row.address,
        tags=list(row.tags or []),
        custom={**(row.custom or {}), **(sensitive or {})},
        has_sensitive=row.sensitive_encrypted is not None,
        owner_id=row.owner_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        version=row.version,
    )


async def _present(
    session: AsyncSession, ctx: RequestContext, rows: Sequence[Company]
) -> list[schemas.Company]:
    """The companies as the caller may see them; showing sensitive values is audited."""
    revealed = fields.reveal(session, ctx, [(row.id, row.sensitive_encrypted) for row in rows])
    await fields.audit_reveal(session, ctx, ENTITY, revealed)
    return [_view(row, revealed.get(row.id)) for row in rows]


async def _company(
    session: AsyncSession, ctx: RequestContext, company_id: uuid.UUID, *, lock: bool = False
) -> Company:
    """A live company the caller may see; 404 otherwise (`company_merged` if merged)."""
    statement = select(Company).where(
        Company.id == company_id, visible_to(ctx, Company.owner_id.expression)
    )
    if lock:
        statement = statement.with_for_update()
    row = await session.scalar(statement)
    if row is None:
        raise CompanyNotFound()
    if row.merged_into_id is not None:
        raise CompanyMerged(
            detail=f"Merged into {row.merged_into_id}",
            extra={"merged_into": str(row.merged_into_id)},
        )
    if row.deleted_at is not None:
        raise CompanyNotFound()
    return row


async def check_company_reference(
    session: AsyncSession, ctx: RequestContext, company_id: uuid.UUID | None, *, field: str
) -> None:
    """A record may point at a live company of the business (422 naming `field` otherwise)."""
    if company_id is None:
        return
    found = await session.scalar(
        select(Company.id).where(Company.id == company_id, Company.deleted_at.is_(None))
    )
    if found is None:
        raise invalid(field, "No such company", "unknown_company")


async def list_companies(
    session: AsyncSession,
    ctx: RequestContext,
    *,
    q: str | None = None,
    tag: str | None = None,
    owner: uuid.UUID | None = None,
    sort: str = "-created",
    limit: int = 50,
    cursor: str | None = None,
) -> schemas.Page[schemas.Company]:
    """Live companies the caller may see; one query whatever the page size (plus one write
    of audit events when sensitive values are shown)."""
    statement = select(Company).where(
        Company.deleted_at.is_(None), visible_to(ctx, Company.owner_id.expression)
    )
    statement = records.filtered(statement, session, Company, q=q, tag=tag, owner=owner)
    column, descending = records.sorted_by(Company, sort)
    page = await paginate(
        session,
        statement,
        sort=column,
        id_column=Company.id,
        limit=limit,
        cursor=cursor,
        descending=descending,
    )
    return schemas.Page(
        items=await _present(session, ctx, page.items), next_cursor=page.next_cursor
    )


async def get_company(
    session: AsyncSession, ctx: RequestContext, company_id: uuid.UUID
) -> schemas.Company:
    row = await _company(session, ctx, company_id)
    return (await _present(session, ctx, [row]))[0]


async def _contact_points(
    session: AsyncSession, ctx: RequestContext, email: str | None, phone: str | None
) -> tuple[str | None, str | None]:
    normal_email = normalise_email(email, field="body.email")
    if not phone:
        return normal_email, None
    normal_phone = normalise_phone(phone, await tenant_country(session, ctx), field="body.phone")
    return normal_email, normal_phone


async def create_company(
    session: AsyncSession, ctx: RequestContext, data: schemas.CompanyCreate
) -> schemas.Company:
    """A new company owned by the caller unless another owner is named; 409
    `duplicate_company` when a live company has the same e-mail or phone."""
    email, phone = await _contact_points(session, ctx, data.email, data.phone)
    owner_id = await records.check_owner(session, ctx, data.owner_id or ctx.user_id)
    values = await fields.check_values(session, ENTITY, data.custom)
    await records.check_duplicates(
        session, Company, DuplicateCompany, email_key=email_key(email), phone=phone, ctx=ctx
    )
    row = Company(
        name=data.name,
        search_name=search_key(data.name),
        domain=data.domain,
        email=email,
        email_key=email_key(email),
        phone=phone,
        website=data.website,
        industry=data.industry,
        address=data.address.model_dump(exclude_none=True) if data.address else None,
        tags=records.normalise_tags(data.tags),
        custom=values.plain,
        sensitive_encrypted=fields.seal(session, values.sensitive),
        owner_id=owner_id,
    )
    session.add(row)
    await session.flush()
    sent = data.model_dump(exclude_unset=True)
    record(
        session,
        ctx,
        "crm.company.created",
        target_type="crm_company",
        target_id=row.id,
        changes=sorted({"name", *sent}),
    )
    return (await _present(session, ctx, [row]))[0]


async def _changes(
    session: AsyncSession, ctx: RequestContext, row: Company, data: schemas.CompanyUpdate
) -> dict[str, Any]:
    """The column values a PATCH asks for, checked and normalised."""
    sent: dict[str, Any] = data.model_dump(exclude_unset=True, exclude={"version"})
    for name, value in sent.items():
        if value is None and name not in CLEARABLE:
            raise invalid(f"body.{name}", f"{name} cannot be cleared", "not_nullable")
    wanted: dict[str, Any] = {}
    if "name" in sent:
        wanted |= {"name": sent["name"], "search_name": search_key(sent["name"])}
    for name in ("domain", "website", "industry", "address"):
        if name in sent:
            wanted[name] = sent[name]
    if "email" in sent:
        email = normalise_email(sent["email"], field="body.email")
        wanted |= {"email": email, "email_key": email_key(email)}
    if "phone" in sent:
        country = await tenant_country(session, ctx)
        wanted["phone"] = normalise_phone(sent["phone"], country, field="body.phone")
    if "tags" in sent:
        wanted["tags"] = records.normalise_tags(sent["tags"])
    if "owner_id" in sent:
        wanted["owner_id"] = await records.check_owner(session, ctx, sent["owner_id"])
    if "custom" in sent:
        held = fields.held_values(session, row.custom, row.sensitive_encrypted)
        values = await fields.check_values(session, ENTITY, sent["custom"], held=held)
        wanted["custom"] = values.plain
        if values.sensitive != held.sensitive:
            wanted["sensitive_encrypted"] = fields.seal(session, values.sensitive)
    return wanted


async def update_company(
    session: AsyncSession,
    ctx: RequestContext,
    company_id: uuid.UUID,
    data: schemas.CompanyUpdate,
    *,
    if_match: str | None = None,
) -> schemas.Company:
    """Change the fields sent (`null` clears the clearable ones; `custom` is merged into the
    values held); 412 on a stale version, 409 on a duplicate e-mail or phone."""
    row = await _company(session, ctx, company_id, lock=True)
    check_version(row.version, expected_version(data.version, if_match))
    wanted = await _changes(session, ctx, row, data)
    changed = [name for name, value in wanted.items() if value != getattr(row, name)]
    if "email_key" in changed or "phone" in changed:
        await records.check_duplicates(
            session,
            Company,
            DuplicateCompany,
            email_key=wanted.get("email_key") if "email_key" in changed else None,
            phone=wanted.get("phone") if "phone" in changed else None,
            except_id=row.id,
            ctx=ctx,
        )
    for name in changed:
        setattr(row, name, wanted[name])
    if changed:
        await session.flush()
        names = {"custom" if name == "sensitive_encrypted" else name for name in changed}
        names -= {"search_name", "email_key"}
        record(
            session,
            ctx,
            "crm.company.updated",
            target_type="crm_company",
            target_id=row.id,
            changes=names,
        )
    return (await _present(session, ctx, [row]))[0]


async def delete_company(session: AsyncSession, ctx: RequestContext, company_id: uuid.UUID) -> None:
    """Soft delete: the company leaves lists and lookups; its history stays."""
    row = await _company(session, ctx, company_id, lock=True)
    row.deleted_at = utcnow()
    await session.flush()
    record(session, ctx, "crm.company.deleted", target_type="crm_company", target_id=row.id)


async def _move_references(session: AsyncSession, source: uuid.UUID, target: uuid.UUID) -> None:
    """Point every record referring to `source` at `target`, one UPDATE per table."""
    now = utcnow()
    for model, column in (
        (Contact, Contact.company_id),
        (Deal, Deal.company_id),
        (Activity, Activity.company_id),
        (Lead, Lead.converted_company_id),
    ):
        await session.execute(
            update(model)
            .where(column == source)
            .values({column.key: target, "version": model.version + 1, "updated_at": now})
            .execution_options(synchronize_session=False)
        )


async def merge_companies(
    session: AsyncSession, ctx: RequestContext, company_id: uuid.UUID, from_id: uuid.UUID
) -> schemas.Company:
    """Merge company `from_id` into `company_id`: its contacts, deals, activities and leads
    move over, empty fields are filled from it, tags are united; it is retired (deleted,
    `merged_into_id` set) and its history stays under its own id. Both are audited."""
    if from_id == company_id:
        raise invalid("body.from_id", "A company cannot be merged into itself", "same_record")
    first, second = sorted((company_id, from_id))
    rows = {first: await _company(session, ctx, first, lock=True)}
    rows[second] = await _company(session, ctx, second, lock=True)
    keep, other = rows[company_id], rows[from_id]
    filled = records.fill_gaps(keep, other, FILLABLE)
    keep.tags = records.union_tags(keep.tags, other.tags)
    held = fields.held_values(session, keep.custom, keep.sensitive_encrypted)
    merged = fields.held_values(session, other.custom, other.sensitive_encrypted)
    keep.custom = {**merged.plain, **held.plain}
    if merged.sensitive:
        keep.sensitive_encrypted = fields.seal(session, {**merged.sensitive, **held.sensitive})
    other.merged_into_id, other.deleted_at = keep.id, utcnow()
    await _move_references(session, other.id, keep.id)
    await session.flush()
    changes = sorted({*filled, "tags", "custom"} - {"email_key"})
    record(
        session,
        ctx,
        "crm.company.merged",
        target_type="crm_company",
        target_id=keep.id,
        changes=changes,
    )
    record(
        session,
        ctx,
        "crm.company.merged_into",
        target_type="crm_company",
        target_id=other.id,
        changes=["merged_into_id", "deleted_at"],
    )
    return (await _present(session, ctx, [keep]))[0]


async def choices(
    session: AsyncSession, ctx: RequestContext, *, current: uuid.UUID | None, limit: int
) -> list[tuple[str, str]]:
    """(id, name) of the companies the caller may see, for a form's picker."""
    return await records.name_choices(
        session, ctx, Company, [Company.name], current=current, limit=limit
    )
