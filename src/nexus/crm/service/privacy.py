"""Data protection (NDPA/GDPR) for contacts: consent per channel and purpose (withdrawn, never
deleted; withdrawing is one call, like consenting), export of everything held on a contact,
and erasure.

Erasure anonymises the contact in place, so deals and the history that point at it stay
whole: names become "Erased contact"; e-mail, phone, address, tags, custom and sensitive values
are cleared; consent rows keep their channel, purpose and times as proof but lose where they
came from; activities about the contact lose their text; leads converted into it lose their
personal details. The audit log keeps an entry of the erasure itself (field names only).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import Any, ClassVar

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from nexus.core.audit import AuditEvent, record
from nexus.core.context import RequestContext
from nexus.core.db import bind_tenant, database_of
from nexus.core.events import Event, publish
from nexus.core.pagination import paginate
from nexus.core.types import utcnow
from nexus.crm import schemas_leads as schemas
from nexus.crm.errors import ContactMerged, ContactNotFound
from nexus.crm.errors_leads import ConsentAlreadyWithdrawn, ConsentNotFound, ContactErased
from nexus.crm.models import Activity, Consent, Contact, Deal, Lead
from nexus.crm.service import fields
from nexus.crm.service.common import search_key, visible_to

ERASED_NAME = "Erased contact"
#: What erasure clears on the contact (the audit entry names these, never values).
ERASED_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "job_title",
    "address",
    "tags",
    "custom",
    "sensitive",
    "source",
)


@dataclasses.dataclass(frozen=True)
class ContactErasedEvent(Event):
    """A contact was erased: modules holding copies of its details drop them."""

    type: ClassVar[str] = "crm.contact.erased"

    contact_id: uuid.UUID


async def _contact(
    session: AsyncSession, ctx: RequestContext, contact_id: uuid.UUID, *, lock: bool = False
) -> Contact:
    """A contact the caller may see, not deleted nor merged (404 otherwise)."""
    statement = select(Contact).where(
        Contact.id == contact_id, visible_to(ctx, Contact.owner_id.expression)
    )
    if lock:
        statement = statement.with_for_update()
    row = await session.scalar(statement)
    if row is None or row.deleted_at is not None:
        raise ContactNotFound()
    if row.merged_into_id is not None:
        raise ContactMerged(
            detail=f"Merged into {row.merged_into_id}",
            extra={"merged_into": str(row.merged_into_id)},
        )
    return row


def _not_erased(row: Contact) -> None:
    if row.erased_at is not None:
        raise ContactErased(detail=f"Erased on {row.erased_at:%Y-%m-%d}")


def consent_view(row: Consent) -> schemas.Consent:
    return schemas.Consent(
        id=row.id,
        contact_id=row.contact_id,
        channel=row.channel,  # type: ignore[arg-type]
        purpose=row.purpose,
        source=row.source,
        granted_at=row.granted_at,
        withdrawn_at=row.withdrawn_at,
        is_active=row.withdrawn_at is None,
        recorded_by=row.recorded_by,
    )


# --- consent -------------------------------------------------------------------------------


async def list_consents(
    session: AsyncSession,
    ctx: RequestContext,
    contact_id: uuid.UUID,
    *,
    limit: int = 50,
    cursor: str | None = None,
) -> schemas.Page[schemas.Consent]:
    """The contact's consents, newest first, withdrawn ones included."""
    await _contact(session, ctx, contact_id)
    page = await paginate(
        session,
        select(Consent).where(Consent.contact_id == contact_id),
        sort=Consent.granted_at,
        id_column=Consent.id,
        limit=limit,
        cursor=cursor,
        descending=True,
    )
    return schemas.Page(
        items=[consent_view(row) for row in page.items], next_cursor=page.next_cursor
    )


async def record_consent(
    session: AsyncSession,
    ctx: RequestContext,
    contact_id: uuid.UUID,
    data: schemas.ConsentCreate,
) -> schemas.Consent:
    """Record that the contact agreed to be reached on a channel for a purpose, now."""
    contact = await _contact(session, ctx, contact_id)
    _not_erased(contact)
    row = Consent(
        contact_id=contact.id,
        channel=data.channel,
        purpose=data.purpose,
        source=data.source,
        granted_at=utcnow(),
        recorded_by=ctx.user_id,
    )
    session.add(row)
    await session.flush()
    record(
        session,
        ctx,
        "crm.consent.recorded",
        target_type="crm_contact",
        target_id=contact.id,
        changes=["channel", "purpose", "source"],
    )
    return consent_view(row)


async def withdraw_consent(
    session: AsyncSession, ctx: RequestContext, contact_id: uuid.UUID, consent_id: uuid.UUID
) -> schemas.Consent:
    """Mark the consent withdrawn now; 409 when it was withdrawn already."""
    contact = await _contact(session, ctx, contact_id)
    row = await session.scalar(
        select(Consent)
        .where(Consent.id == consent_id, Consent.contact_id == contact.id)
        .with_for_update()
    )
    if row is None:
        raise ConsentNotFound()
    if row.withdrawn_at is not None:
        raise ConsentAlreadyWithdrawn(detail=f"Withdrawn on {row.withdrawn_at:%Y-%m-%d}")
    row.withdrawn_at = utcnow()
    await session.flush()
    record(
        session,
        ctx,
        "crm.consent.withdrawn",
        target_type="crm_contact",
        target_id=contact.id,
        changes=["withdrawn_at"],
    )
    return consent_view(row)


# --- export --------------------------------------------------------------------------------


def _columns(row: Any, *, leave: frozenset[str] = frozenset()) -> dict[str, Any]:
    """A row as JSON-ready values, column by column."""
    values: dict[str, Any] = {}
    for column in row.__table__.columns:
        if column.key in leave:
            continue
        value = getattr(row, column.key)
        if isinstance(value, uuid.UUID):
            value = str(value)
        elif isinstance(value, dt.datetime | dt.date):
            value = value.isoformat()
        values[column.key] = value
    return values


HIDDEN = frozenset({"tenant_id", "search_name", "email_key", "sensitive_encrypted"})


async def export_contact(
    session: AsyncSession, ctx: RequestContext, contact_id: uuid.UUID
) -> schemas.ContactExport:
    """Everything held on the contact: its record (sensitive values decrypted), consents,
    activities, deals, the leads it came from, and its audit events. The export is audited,
    naming the sensitive fields it showed."""
    contact = await _contact(session, ctx, contact_id)
    sensitive = fields.unseal(session, contact.sensitive_encrypted)
    details = _columns(contact, leave=HIDDEN)
    details["custom"] = {**(contact.custom or {}), **sensitive}
    consents = (
        await session.scalars(
            select(Consent).where(Consent.contact_id == contact.id).order_by(Consent.granted_at)
        )
    ).all()
    activities = (
        await session.scalars(
            select(Activity)
            .where(Activity.contact_id == contact.id)
            .order_by(Activity.created_at, Activity.id)
        )
    ).all()
    deals = (
        await session.scalars(
            select(Deal).where(Deal.contact_id == contact.id).order_by(Deal.created_at, Deal.id)
        )
    ).all()
    leads = (
        await session.scalars(
            select(Lead).where(Lead.converted_contact_id == contact.id).order_by(Lead.created_at)
        )
    ).all()
    audit = (
        await session.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.tenant_id == ctx.tenant_id,
                AuditEvent.target_type == "crm_contact",
                AuditEvent.target_id == str(contact.id),
            )
            .order_by(AuditEvent.occurred_at, AuditEvent.id)
        )
    ).all()
    await _audit_export(session, ctx, contact.id, sorted(sensitive))
    return schemas.ContactExport(
        exported_at=utcnow(),
        contact=details,
        consents=[consent_view(row) for row in consents],
        activities=[_columns(row, leave=frozenset({"tenant_id"})) for row in activities],
        deals=[_columns(row, leave=frozenset({"tenant_id"})) for row in deals],
        leads=[_columns(row, leave=HIDDEN) for row in leads],
        audit_events=[
            _columns(event, leave=frozenset({"tenant_id", "client_address"})) for event in audit
        ],
    )


async def _audit_export(
    session: AsyncSession, ctx: RequestContext, contact_id: uuid.UUID, shown: list[str]
) -> None:
    """The audit entry of an export, committed before the data leaves: a GET's session may
    be SQLite's reader, which does not write, so the entry gets a transaction of its own."""
    database = database_of(session)
    if database.read_engine is not database.engine and session.bind is database.read_engine:
        async with database.transaction(ctx.tenant_id) as writer:
            await bind_tenant(writer, ctx.tenant_id)
            _record_export(writer, ctx, contact_id, shown)
        return
    _record_export(session, ctx, contact_id, shown)


def _record_export(
    session: AsyncSession, ctx: RequestContext, contact_id: uuid.UUID, shown: list[str]
) -> None:
    record(
        session,
        ctx,
        "crm.contact.exported",
        target_type="crm_contact",
        target_id=contact_id,
        changes=shown,
    )


# --- erasure -------------------------------------------------------------------------------


async def erase_contact(
    session: AsyncSession, ctx: RequestContext, contact_id: uuid.UUID
) -> schemas.ContactErasure:
    """Anonymise the contact and what is written about it; 409 when erased already."""
    contact = await _contact(session, ctx, contact_id, lock=True)
    _not_erased(contact)
    now = utcnow()
    contact.first_name, contact.last_name = ERASED_NAME, ""
    contact.search_name = search_key(ERASED_NAME)
    contact.email = contact.email_key = contact.phone = contact.job_title = None
    contact.address = contact.source = contact.sensitive_encrypted = None
    contact.tags, contact.custom = [], {}
    contact.erased_at = now
    consents = await session.execute(
        update(Consent).where(Consent.contact_id == contact.id).values(source="erased")
    )
    activities = await session.execute(
        update(Activity)
        .where(Activity.contact_id == contact.id)
        .values(subject="Erased", body=None, updated_at=now, version=Activity.version + 1)
    )
    leads = await session.execute(
        update(Lead)
        .where(Lead.converted_contact_id == contact.id)
        .values(
            name="Erased lead",
            search_name=search_key("Erased lead"),
            email=None,
            email_key=None,
            phone=None,
            notes=None,
            custom={},
            updated_at=now,
            version=Lead.version + 1,
        )
    )
    await session.flush()
    record(
        session,
        ctx,
        "crm.contact.erased",
        target_type="crm_contact",
        target_id=contact.id,
        changes=ERASED_FIELDS,
    )
    publish(session, ctx, ContactErasedEvent(contact.id))
    return schemas.ContactErasure(
        contact_id=contact.id,
        erased_at=now,
        consents=_count(consents),
        activities=_count(activities),
        leads=_count(leads),
    )


def _count(result: Any) -> int:
    return int(result.rowcount or 0)
