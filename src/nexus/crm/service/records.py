"""What contacts and companies share: owners, tags, duplicate detection, search and sorting
of lists, and filling one record's gaps from another when merging."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    bindparam,
    cast,
    exists,
    func,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from nexus.core.context import RequestContext
from nexus.core.db import is_postgresql
from nexus.core.errors import FieldError, NexusError, invalid
from nexus.core.guard import read_scoped
from nexus.crm.service.common import ALL_RECORDS, search_key, visible_to
from nexus.identity.errors import UserNotFound
from nexus.identity.service import team


def normalise_tags(tags: Iterable[str]) -> list[str]:
    """Tags case-folded, in the order given, each once."""
    return list(dict.fromkeys(search_key(tag) for tag in tags if tag.strip()))


async def check_owner(
    session: AsyncSession, ctx: RequestContext, owner_id: uuid.UUID | None
) -> uuid.UUID | None:
    """The owner of a record being written: a member of the business. Without
    `crm.record.all` one may only own records oneself."""
    if owner_id is None or owner_id == ctx.user_id:
        return owner_id
    if not ctx.can(ALL_RECORDS):
        raise invalid("body.owner_id", "You may only give records to yourself", "not_allowed")
    try:
        await team.get_member(session, ctx, owner_id)
    except UserNotFound:
        raise invalid("body.owner_id", "No such member of the business", "unknown_owner") from None
    return owner_id


#: Rows read by the duplicate check: a few records can share an e-mail or phone (merges,
#: imports of valid rows), and the one named is chosen among them.
DUPLICATES_READ = 20


async def check_duplicates(
    session: AsyncSession,
    model: Any,
    error: type[NexusError],
    *,
    email_key: str | None,
    phone: str | None,
    except_id: uuid.UUID | None = None,
    ctx: RequestContext | None = None,
) -> None:
    """409 naming the live record with the same e-mail (case-insensitive) or phone; an
    e-mail match is named before a phone match.

    Duplicates are looked for across every live record of the business, whoever owns it, so
    the 409 is always given; but the answer names the existing record (`existing_id`, and
    the id in the field's reason) only when the caller may open it: given `ctx`, a caller
    without `crm.record.all` learns the id of a record they own and nothing more.

    One statement: a UNION ALL of an e-mail lookup and a phone lookup, each through its own
    index. (With `email_key = ? OR phone = ?` SQLite walks all the tenant's rows: the tenant
    condition is ANDed around the OR, so neither (tenant, key) index can serve it.)"""
    if email_key is None and phone is None:
        return
    statement = _duplicates_lookup(
        model, email_key is not None, phone is not None, except_id is not None
    )
    values = {"email_key": email_key, "phone": phone, "except_id": except_id}
    rows = (await read_scoped(session, model, statement, values)).all()
    if not rows:
        return
    by_email = sorted(
        row.id for row in rows if email_key is not None and row.email_key == email_key
    )
    field = "email" if by_email else "phone"
    found_id = by_email[0] if by_email else min(row.id for row in rows)
    owner_id = next(row.owner_id for row in rows if row.id == found_id)
    if ctx is not None and not may_open(ctx, owner_id):
        raise error(
            detail=f"A record with this {field} exists",
            errors=[FieldError(f"body.{field}", "Already used by another record", "duplicate")],
            extra={"field": field},
        )
    raise error(
        detail=f"A record with this {field} exists",
        errors=[FieldError(f"body.{field}", f"Already used by {found_id}", "duplicate")],
        extra={"existing_id": str(found_id), "field": field},
    )


@functools.cache
def _duplicates_lookup(model: Any, by_email: bool, by_phone: bool, excepting: bool) -> Select[Any]:
    """The duplicate check's statement for one shape, built once (bound parameters)."""
    lookups = []
    for column, wanted, name in (
        (model.email_key, by_email, "email_key"),
        (model.phone, by_phone, "phone"),
    ):
        if not wanted:
            continue
        lookup = select(model.id, model.email_key, model.owner_id).where(
            column == bindparam(name), model.deleted_at.is_(None)
        )
        if excepting:
            lookup = lookup.where(model.id != bindparam("except_id"))
        lookups.append(lookup)
    statement = lookups[0] if len(lookups) == 1 else union_all(*lookups)
    return statement.limit(DUPLICATES_READ)  # type: ignore[return-value]


async def name_choices(
    session: AsyncSession,
    ctx: RequestContext,
    model: Any,
    name_columns: Sequence[Any],
    *,
    current: uuid.UUID | None,
    limit: int,
) -> list[tuple[str, str]]:
    """(id, name) of the live records the caller may see, by name, for a picker; the record
    currently linked (`current`) is added when it is visible but beyond `limit`. Only names
    are read, so no sensitive value is revealed (nor a read of one audited)."""
    columns = [model.id, *name_columns]
    live = (model.deleted_at.is_(None), visible_to(ctx, model.owner_id.expression))
    statement = select(*columns).where(*live).order_by(model.search_name).limit(limit)
    rows = list((await session.execute(statement)).all())
    if current is not None and all(row[0] != current for row in rows):
        linked = select(*columns).where(model.id == current, *live)
        rows += list((await session.execute(linked)).all())
    return [(str(row[0]), " ".join(str(part) for part in row[1:] if part)) for row in rows]


def may_open(ctx: RequestContext, owner_id: uuid.UUID | None) -> bool:
    """Record-level access to one record (what `common.visible_to` says in SQL)."""
    return ctx.can(ALL_RECORDS) or (owner_id is not None and owner_id == ctx.user_id)


def has_tag(
    session: AsyncSession, column: InstrumentedAttribute[Any], tag: str
) -> ColumnElement[bool]:
    """The JSON list `column` holds `tag` (JSONB containment on PostgreSQL, json_each on
    SQLite: both read an index-free list exactly, not a text pattern)."""
    wanted = search_key(tag)
    if is_postgresql(session):
        return column.op("@>")(func.jsonb_build_array(cast(wanted, String)))
    elements = func.json_each(column).table_valued("value")
    return exists(select(1).select_from(elements).where(elements.c.value == wanted))


def matching(model: Any, q: str) -> ColumnElement[bool]:
    """Name, e-mail or phone containing `q`, case-insensitively (the same on both engines)."""
    term = search_key(q)
    conditions = [
        model.search_name.contains(term, autoescape=True),
        model.email_key.contains(term, autoescape=True),
    ]
    digits = "".join(ch for ch in q if ch.isdigit())
    if digits:
        national = digits.lstrip("0") or digits
        conditions.append(model.phone.contains(national, autoescape=True))
    return or_(*conditions)


def sorted_by(model: Any, sort: str) -> tuple[InstrumentedAttribute[Any], bool]:
    """(sort column, descending) of a list's `sort` parameter."""
    column = model.search_name if sort.lstrip("-") == "name" else model.created_at
    return column, sort.startswith("-")


def filtered(
    statement: Select[Any],
    session: AsyncSession,
    model: Any,
    *,
    q: str | None,
    tag: str | None,
    owner: uuid.UUID | None,
) -> Select[Any]:
    if q and q.strip():
        statement = statement.where(matching(model, q))
    if tag and tag.strip():
        statement = statement.where(has_tag(session, model.tags, tag))
    if owner is not None:
        statement = statement.where(model.owner_id == owner)
    return statement


def fill_gaps(keep: Any, other: Any, fields: Sequence[str]) -> list[str]:
    """Copy `other`'s value of each field `keep` has empty; return the fields filled."""
    filled = []
    for field in fields:
        if getattr(keep, field) in (None, "", {}, []) and getattr(other, field) not in (
            None,
            "",
            {},
            [],
        ):
            setattr(keep, field, getattr(other, field))
            filled.append(field)
    return filled


def union_tags(keep: list[str], other: list[str]) -> list[str]:
    return list(dict.fromkeys([*keep, *other]))
