"""Contacts (people): create, read, list, change, soft-delete and merge, with record-level
access (without `crm.record.all` one sees and changes only the contacts one owns; others'
are 404). Creating one publishes `crm.contact.created`.

A merged contact answers 404 `contact_merged` naming the contact it was merged into.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any, ClassVar, Protocol

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from nexus.core.audit import record
from nexus.core.concurrency import check_version, expected_version
from nexus.core.context import RequestContext
from nexus.core.db import add_written_once, with_defaults
from nexus.core.errors import invalid
from nexus.core.events import Event, publish
from nexus.core.guard import read_scoped
from nexus.core.pagination import paginate
from nexus.core.types import utcnow
from nexus.crm import schemas
from nexus.crm.errors import ContactMerged, ContactNotFound, DuplicateContact
from nexus.crm.models import Activity, Consent, Contact, Deal, Lead
from nexus.crm.service import fields, records
from nexus.crm.service.common import (
    ALL_RECORDS,
    email_key,
    normalise_email,
    normalise_phone,
    search_key,
    tenant_country,
    visible_to,
)
from nexus.crm.service.companies import check_company_reference

ENTITY = "contact"
#: Fields a PATCH may clear with `null`.
CLEARABLE = frozenset({"email", "phone", "job_title", "company_id", "address", "source"})
#: Fields a merge fills from the merged contact where the kept one has none.
FILLABLE = (
    "last_name",
    "email",
    "email_key",
    "phone",
    "job_title",
    "company_id",
    "address",
    "source",
)


@dataclasses.dataclass(frozen=True)
class ContactCreated(Event):
    """A contact was added (by hand, by lead conversion, or by import's summary event)."""

    type: ClassVar[str] = "crm.contact.created"

    contact_id: uuid.UUID
    company_id: uuid.UUID | None
    owner_id: uuid.UUID | None


def full_name(first_name: str, last_name: str) -> str:
    return f"{first_name} {last_name}".strip()


class _Shown(Protocol):
    """What a contact's view reads: a `Contact`, or a row of `_SHOWN` columns."""

    id: uuid.UUID
    first_name: str
    last_name: str
    email: str | None
    phone: str | None
    job_title: str | None
    company_id: uuid.UUID | None
    address: dict[str, Any] | None
    tags: list[str]
    custom: dict[str, Any]
    sensitive_encrypted: bytes | None
    source: str | None
    owner_id: uuid.UUID | None
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int


def _view(row: _Shown, sensitive: dict[str, Any] | None) -> schemas.Contact:
    return schemas.Contact(
        id=row.id,
        first_name=row.first_name,
        last_name=row.last_name,
        email=row.email,
        phone=row.phone,
        job_title=row.job_title,
        company_id=row.company_id,
        address=row.address,
        tags=list(row.tags or []),
        custom={**(row.custom or {}), **(sensitive or {})},
        has_sensitive=row.sensitive_encrypted is not None,
        source=row.source,
        owner_id=row.owner_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        version=row.version,
    )


async def _present(
    session: AsyncSession, ctx: RequestContext, rows: Sequence[_Shown]
) -> list[schemas.Contact]:
    """The contacts as the caller may see them; showing sensitive values is audited."""
    revealed = fields.reveal(session, ctx, [(row.id, row.sensitive_encrypted) for row in rows])
    await fields.audit_reveal(session, ctx, ENTITY, revealed)
    return [_view(row, revealed.get(row.id)) for row in rows]


_BY_ID = select(Contact).where(Contact.id == bindparam("contact_id"))
_OWN_BY_ID = _BY_ID.where(Contact.owner_id == bindparam("user_id"))
#: One contact by id, built once: [may see all records][lock].
_CONTACT_LOOKUPS = {
    (True, False): _BY_ID,
    (True, True): _BY_ID.with_for_update(),
    (False, False): _OWN_BY_ID,
    (False, True): _OWN_BY_ID.with_for_update(),
}


#: A contact to show, read as columns past the ORM (`read_scoped`).
_SHOWN = select(
    *(getattr(Contact, name) for name in _Shown.__annotations__),
    Contact.merged_into_id,
    Contact.deleted_at,
).where(Contact.id == bindparam("contact_id"))
_SHOWN_LOOKUPS = {True: _SHOWN, False: _SHOWN.where(Contact.owner_id == bindparam("user_id"))}


def _live(row: Any) -> None:
    """404 unless `row` is a live contact (`contact_merged` if merged)."""
    if row is None:
        raise ContactNotFound()
    if row.merged_into_id is not None:
        raise ContactMerged(
            detail=f"Merged into {row.merged_into_id}",
            extra={"merged_into": str(row.merged_into_id)},
        )
    if row.deleted_at is not None:
        raise ContactNotFound()


async def _contact(
    session: AsyncSession, ctx: RequestContext, contact_id: uuid.UUID, *, lock: bool = False
) -> Contact:
    """A live contact the caller may see; 404 otherwise (`contact_merged` if merged)."""
    statement = _CONTACT_LOOKUPS[ctx.can(ALL_RECORDS), lock]
    row = await session.scalar(statement, {"contact_id": contact_id, "user_id": ctx.user_id})
    _live(row)
    assert row is not None
    return row


async def check_contact_reference(
    session: AsyncSession, ctx: RequestContext, contact_id: uuid.UUID | None, *, field: str
) -> None:
    """A record may point at a live contact of the business (422 naming `field` otherwise)."""
    if contact_id is None:
        return
    found = await session.scalar(
        select(Contact.id).where(Contact.id == contact_id, Contact.deleted_at.is_(None))
    )
    if found is None:
        raise invalid(field, "No such contact", "unknown_contact")


async def list_contacts(
    session: AsyncSession,
    ctx: RequestContext,
    *,
    q: str | None = None,
    tag: str | None = None,
    owner: uuid.UUID | None = None,
    company: uuid.UUID | None = None,
    sort: str = "-created",
    limit: int = 50,
    cursor: str | None = None,
) -> schemas.Page[schemas.Contact]:
    """Live contacts the caller may see; one query whatever the page size (plus one write
    of audit events when sensitive values are shown)."""
    statement = select(Contact).where(
        Contact.deleted_at.is_(None), visible_to(ctx, Contact.owner_id.expression)
    )
    statement = records.filtered(statement, session, Contact, q=q, tag=tag, owner=owner)
    if company is not None:
        statement = statement.where(Contact.company_id == company)
    column, descending = records.sorted_by(Contact, sort)
    page = await paginate(
        session,
        statement,
        sort=column,
        id_column=Contact.id,
        limit=limit,
        cursor=cursor,
        descending=descending,
    )
    items = await _present(session, ctx, page.items)
    return schemas.Page(items=items, next_cursor=page.next_cursor)


async def get_contact(
    session: AsyncSession, ctx: RequestContext, contact_id: uuid.UUID
) -> schemas.Contact:
    statement = _SHOWN_LOOKUPS[ctx.can(ALL_RECORDS)]
    params = {"contact_id": contact_id, "user_id": ctx.user_id}
    row = (await read_scoped(session, Contact, statement, params)).one_or_none()
    _live(row)
    assert row is not None
    return (await _present(session, ctx, [row]))[0]


async def create_contact(
    session: AsyncSession, ctx: RequestContext, data: schemas.ContactCreate
) -> schemas.Contact:
    """A new contact owned by the caller unless another owner is named; 409
    `duplicate_contact` when a live contact has the same e-mail or phone."""
    email = normalise_email(data.email, field="body.email")
    phone = None
    if data.phone:
        country = await tenant_country(session, ctx)
        phone = normalise_phone(data.phone, country, field="body.phone")
    owner_id = await records.check_owner(session, ctx, data.owner_id or ctx.user_id)
    await check_company_reference(session, ctx, data.company_id, field="body.company_id")
    values = await fields.check_values(session, ENTITY, data.custom)
    # Built before the duplicate check and added after it: on SQLite the check takes the
    # write lock, held until COMMIT, so the work done in between is kept short.
    row = Contact(
        first_name=data.first_name,
        last_name=data.last_name,
        search_name=search_key(full_name(data.first_name, data.last_name)),
        email=email,
        email_key=email_key(email),
        phone=phone,
        job_title=data.job_title,
        company_id=data.company_id,
        address=data.address.model_dump(exclude_none=True) if data.address else None,
        tags=records.normalise_tags(data.tags),
        custom=values.plain,
        sensitive_encrypted=fields.seal(session, values.sensitive),
        source=data.source,
        owner_id=owner_id,
    )
    with_defaults(row)
    await records.check_duplicates(
        session, Contact, DuplicateContact, email_key=row.email_key, phone=phone, ctx=ctx
    )
    # Described without a flush: the INSERT goes with the commit, in one statement with the
    # audit and outbox events on PostgreSQL.
    add_written_once(session, row)
    sent = data.model_dump(exclude_unset=True)
    record(
        session,
        ctx,
        "crm.contact.created",
        target_type="crm_contact",
        target_id=row.id,
        changes=sorted({"first_name", *sent}),
    )
    publish(session, ctx, ContactCreated(row.id, row.company_id, row.owner_id))
    return (await _present(session, ctx, [row]))[0]


async def _changes(
    session: AsyncSession, ctx: RequestContext, row: Contact, data: schemas.ContactUpdate
) -> dict[str, Any]:
    """The column values a PATCH asks for, checked and normalised."""
    sent: dict[str, Any] = data.model_dump(exclude_unset=True, exclude={"version"})
    for name, value in sent.items():
        if value is None and name not in CLEARABLE:
            raise invalid(f"body.{name}", f"{name} cannot be cleared", "not_nullable")
    wanted: dict[str, Any] = {
        name: sent[name]
        for name in ("first_name", "last_name", "job_title", "address", "source")
        if name in sent
    }
    if "first_name" in sent or "last_name" in sent:
        name = full_name(
            sent.get("first_name", row.first_name), sent.get("last_name", row.last_name)
        )
        wanted["search_name"] = search_key(name)
    if "email" in sent:
        email = normalise_email(sent["email"], field="body.email")
        wanted |= {"email": email, "email_key": email_key(email)}
    if "phone" in sent:
        country = await tenant_country(session, ctx)
        wanted["phone"] = normalise_phone(sent["phone"], country, field="body.phone")
    if "company_id" in sent:
        await check_company_reference(session, ctx, sent["company_id"], field="body.company_id")
        wanted["company_id"] = sent["company_id"]
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


async def update_contact(
    session: AsyncSession,
    ctx: RequestContext,
    contact_id: uuid.UUID,
    data: schemas.ContactUpdate,
    *,
    if_match: str | None = None,
) -> schemas.Contact:
    """Change the fields sent (`null` clears the clearable ones; `custom` is merged into the
    values held); 412 on a stale version, 409 on a duplicate e-mail or phone."""
    row = await _contact(session, ctx, contact_id, lock=True)
    check_version(row.version, expected_version(data.version, if_match))
    wanted = await _changes(session, ctx, row, data)
    changed = [name for name, value in wanted.items() if value != getattr(row, name)]
    if "email_key" in changed or "phone" in changed:
        await records.check_duplicates(
            session,
            Contact,
            DuplicateContact,
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
            "crm.contact.updated",
            target_type="crm_contact",
            target_id=row.id,
            changes=names,
        )
    return (await _present(session, ctx, [row]))[0]


async def delete_contact(session: AsyncSession, ctx: RequestContext, contact_id: uuid.UUID) -> None:
    """Soft delete: the contact leaves lists and lookups; its history stays."""
    row = await _contact(session, ctx, contact_id, lock=True)
    row.deleted_at = utcnow()
    await session.flush()
    record(session, ctx, "crm.contact.deleted", target_type="crm_contact", target_id=row.id)


async def _move_references(session: AsyncSession, source: uuid.UUID, target: uuid.UUID) -> None:
    """Point every record referring to `source` at `target`, one UPDATE per table."""
    now = utcnow()
    for model, column in (
        (Deal, Deal.contact_id),
        (Activity, Activity.contact_id),
        (Lead, Lead.converted_contact_id),
    ):
        await session.execute(
            update(model)
            .where(column == source)
            .values({column.key: target, "version": model.version + 1, "updated_at": now})
            .execution_options(synchronize_session=False)
        )
    await session.execute(
        update(Consent)
        .where(Consent.contact_id == source)
        .values(contact_id=target)
        .execution_options(synchronize_session=False)
    )


async def merge_contacts(
    session: AsyncSession, ctx: RequestContext, contact_id: uuid.UUID, from_id: uuid.UUID
) -> schemas.Contact:
    """Merge contact `from_id` into `contact_id`: its deals, activities, consents and leads
    move over, empty fields are filled from it, tags are united; it is retired (deleted,
    `merged_into_id` set) and its history stays under its own id. Both are audited."""
    if from_id == contact_id:
        raise invalid("body.from_id", "A contact cannot be merged into itself", "same_record")
    first, second = sorted((contact_id, from_id))
    rows = {first: await _contact(session, ctx, first, lock=True)}
    rows[second] = await _contact(session, ctx, second, lock=True)
    keep, other = rows[contact_id], rows[from_id]
    filled = records.fill_gaps(keep, other, FILLABLE)
    if "last_name" in filled:
        keep.search_name = search_key(full_name(keep.first_name, keep.last_name))
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
        "crm.contact.merged",
        target_type="crm_contact",
        target_id=keep.id,
        changes=changes,
    )
    record(
        session,
        ctx,
        "crm.contact.merged_into",
        target_type="crm_contact",
        target_id=other.id,
        changes=["merged_into_id", "deleted_at"],
    )
    return (await _present(session, ctx, [keep]))[0]


async def choices(
    session: AsyncSession, ctx: RequestContext, *, current: uuid.UUID | None, limit: int
) -> list[tuple[str, str]]:
    """(id, name) of the contacts the caller may see, for a form's picker."""
    return await records.name_choices(
        session, ctx, Contact, [Contact.first_name, Contact.last_name], current=current, limit=limit
    )
