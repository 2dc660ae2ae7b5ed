"""CSV export of the contacts, companies, deals and leads lists.

A CSV export streams: the endpoint checks the caller, builds the list's SELECT (its filters
and record-level access), audits one export event and returns; the rows are read while the
response is sent, after the request's own session is committed and closed. Each batch of
`CHUNK` rows is read in a short read-only session of its own, bound to the caller's business
(the tenancy guard scopes it like any request), and closed before the batch is sent, so a
slow download holds no connection or transaction. Batches follow the keyset
`(created_at, id)` from where the previous one ended, and only records created before the
export started are read: every record live for the whole export appears exactly once, none
twice; a record changed while the file is being sent appears as its batch read it.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import uuid
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from nexus.core.audit import record
from nexus.core.context import RequestContext
from nexus.core.db import Database, database_of
from nexus.core.pagination import paginate
from nexus.core.types import utcnow
from nexus.crm.models import Company, Contact, Deal, Lead
from nexus.crm.service import fields, records
from nexus.crm.service.common import (
    visible_to,
)
from nexus.crm.service.imports import COLUMNS

#: Rows read per batch.
CHUNK = 1000


def _cell(value: Any) -> str:
    """A CSV cell; text that a spreadsheet would run as a formula is quoted with `'`."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@dataclasses.dataclass(frozen=True)
class Export:
    """What one CSV export reads: its SELECT, columns and caller, fixed when it starts."""

    entity: str
    model: Any
    statement: Select[Any]
    columns: tuple[str, ...]
    custom: tuple[str, ...]
    ctx: RequestContext
    database: Database
    started: dt.datetime

    @property
    def filename(self) -> str:
        return f"{PLURAL[self.entity]}.csv"


PLURAL = {"contact": "contacts", "company": "companies", "deal": "deals", "lead": "leads"}
EXPORT_COLUMNS: dict[str, tuple[str, ...]] = {
    # The import's columns: an exported file can be imported again.
    "contact": ("id", *COLUMNS, "owner_id", "created_at"),
    "company": (
        *("id", "name", "domain", "email", "phone", "website", "industry", "tags"),
        *("owner_id", "created_at"),
    ),
    "deal": (
        *("id", "title", "pipeline_id", "stage_id", "amount_minor", "currency"),
        *("expected_close", "status", "lost_reason", "contact_id", "company_id"),
        *("owner_id", "created_at"),
    ),
    "lead": (
        *("id", "name", "email", "phone", "company_name", "source", "status", "owner_id"),
        *("converted_contact_id", "created_at"),
    ),
}
MODELS: dict[str, Any] = {"contact": Contact, "company": Company, "deal": Deal, "lead": Lead}


async def start_export(
    session: AsyncSession,
    ctx: RequestContext,
    entity: str,
    statement: Select[Any],
    *,
    filters: dict[str, Any],
) -> Export:
    """Fix what an export of `entity` reads (`statement`: the list's SELECT with its filters
    and record-level access) and audit it: one `crm.<entity>s.exported` event naming the
    filters used, committed before any row leaves. Sensitive custom columns are exported only
    to `crm.sensitive.read` holders (each record shown audited as on reads)."""
    definitions = await fields.definitions_of(session, entity)
    custom = tuple(
        sorted(
            key
            for key, definition in definitions.items()
            if not definition.sensitive or ctx.can(fields.SENSITIVE_READ)
        )
    )
    used = sorted(name for name, value in filters.items() if value is not None)
    database = database_of(session)
    action = f"crm.{PLURAL[entity]}.exported"
    if database.read_engine is not database.engine and session.bind is database.read_engine:
        async with database.transaction(ctx.tenant_id) as writer:
            record(writer, ctx, action, target_type=f"crm_{entity}", changes=used)
    else:
        record(session, ctx, action, target_type=f"crm_{entity}", changes=used)
    return Export(
        entity=entity,
        model=MODELS[entity],
        statement=statement,
        columns=EXPORT_COLUMNS[entity],
        custom=custom,
        ctx=ctx,
        database=database,
        started=utcnow(),
    )


def contacts_statement(
    session: AsyncSession,
    ctx: RequestContext,
    *,
    q: str | None,
    tag: str | None,
    owner: uuid.UUID | None,
    company: uuid.UUID | None,
) -> Select[Any]:
    """The contacts list's SELECT: live contacts the caller may see, filtered."""
    statement = select(Contact).where(
        Contact.deleted_at.is_(None), visible_to(ctx, Contact.owner_id.expression)
    )
    statement = records.filtered(statement, session, Contact, q=q, tag=tag, owner=owner)
    if company is not None:
        statement = statement.where(Contact.company_id == company)
    return statement


def companies_statement(
    session: AsyncSession,
    ctx: RequestContext,
    *,
    q: str | None,
    tag: str | None,
    owner: uuid.UUID | None,
) -> Select[Any]:
    """The companies list's SELECT: live companies the caller may see, filtered."""
    statement = select(Company).where(
        Company.deleted_at.is_(None), visible_to(ctx, Company.owner_id.expression)
    )
    return records.filtered(statement, session, Company, q=q, tag=tag, owner=owner)


def _fixed_cells(entity: str, row: Any, names: dict[uuid.UUID, str]) -> list[Any]:
    if entity == "contact":
        return [
            *(row.id, row.first_name, row.last_name, row.email, row.phone, row.job_title),
            names.get(row.company_id) if row.company_id else None,
            ";".join(row.tags or []),
            row.owner_id,
            row.created_at.isoformat(),
        ]
    if entity == "company":
        return [
            *(row.id, row.name, row.domain, row.email, row.phone, row.website, row.industry),
            ";".join(row.tags or []),
            row.owner_id,
            row.created_at.isoformat(),
        ]
    if entity == "deal":
        return [
            *(row.id, row.title, row.pipeline_id, row.stage_id, row.amount_minor, row.currency),
            row.expected_close.isoformat() if row.expected_close else None,
            *(row.status, row.lost_reason, row.contact_id, row.company_id, row.owner_id),
            row.created_at.isoformat(),
        ]
    return [
        *(row.id, row.name, row.email, row.phone, row.company_name, row.source, row.status),
        *(row.owner_id, row.converted_contact_id, row.created_at.isoformat()),
    ]


async def _batch(export: Export, cursor: str | None) -> tuple[str, str | None]:
    """One batch of the export's rows as CSV text, read in a read-only session of its own,
    and the cursor of the next batch (None after the last)."""
    model, ctx = export.model, export.ctx
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    async with export.database.session(write=False) as session:
        session.info["tenant_id"] = ctx.tenant_id
        page = await paginate(
            session,
            export.statement.where(model.created_at <= export.started),
            sort=model.created_at,
            id_column=model.id,
            limit=CHUNK,
            cursor=cursor,
        )
        names: dict[uuid.UUID, str] = {}
        company_ids = {row.company_id for row in page.items if export.entity == "contact"}
        company_ids.discard(None)
        if company_ids:
            found = await session.execute(
                select(Company.id, Company.name).where(Company.id.in_(company_ids))
            )
            names = {company_id: name for company_id, name in found}
        revealed: dict[uuid.UUID, dict[str, Any]] = {}
        if hasattr(model, "sensitive_encrypted"):
            revealed = fields.reveal(
                session, ctx, [(row.id, row.sensitive_encrypted) for row in page.items]
            )
            await fields.audit_reveal(session, ctx, export.entity, revealed)
        await session.commit()
    for row in page.items:
        values = {**(row.custom or {}), **revealed.get(row.id, {})}
        writer.writerow(
            _cell(value)
            for value in (
                *_fixed_cells(export.entity, row, names),
                *(values.get(key) for key in export.custom),
            )
        )
    return out.getvalue(), page.next_cursor


async def stream_export(export: Export) -> AsyncIterator[str]:
    """The export's CSV: the header, then one batch of rows at a time (see above)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(
        [*export.columns, *(f"custom.{key}" for key in export.custom)]
    )
    yield out.getvalue()
    cursor: str | None = None
    while True:
        text, cursor = await _batch(export, cursor)
        if text:
            yield text
        if cursor is None:
            return
