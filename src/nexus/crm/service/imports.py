"""CSV import of contacts (the lists' CSV export is in `exports.py`).

An import is validated whole, in memory, before anything is written: every problem is
reported as `{row, column, problem}` (rows are lines of the file, the header is line 1).
With invalid rows and `only_valid` off nothing is written (status `invalid`); otherwise a job
checks the rows' e-mails and phones again (a contact added since the validation makes its row
skipped and reported, never a duplicate), writes the others set-based (companies first, then
contacts in chunks of 1,000) in one transaction, publishes one `crm.contacts.imported` event
and one audit event.

The valid rows travel to the job in its payload, already normalised (sensitive custom values
already encrypted).
"""

from __future__ import annotations

import base64
import csv
import dataclasses
import io
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar, cast

from sqlalchemy import String, Table, any_, bindparam, insert, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from nexus.core.audit import record
from nexus.core.context import RequestContext
from nexus.core.db import bind_tenant, database_of, is_postgresql
from nexus.core.errors import NotFound, ValidationFailed, invalid
from nexus.core.events import Event, publish
from nexus.core.ids import new_id
from nexus.core.jobs import enqueue
from nexus.core.pagination import paginate
from nexus.core.types import utcnow
from nexus.crm import schemas_imports as schemas
from nexus.crm.models import Company, Contact, ContactImport
from nexus.crm.service import fields, records
from nexus.crm.service.common import (
    email_key,
    normalise_email,
    normalise_phone,
    search_key,
    tenant_country,
)

IMPORT_JOB = "crm.contacts.import"
MAX_BYTES = 10 * 1024 * 1024
MAX_ROWS = 200_000
CHUNK = 1000
#: At most this many problems are kept in an import's report.
MAX_REPORT = 1000
COLUMNS = ("first_name", "last_name", "email", "phone", "job_title", "company", "tags")
LIMITS = {"first_name": 100, "last_name": 100, "job_title": 200, "company": 200}
TRUE, FALSE = {"true", "yes", "1", "y"}, {"false", "no", "0", "n"}


class ImportNotFound(NotFound):
    code, title = "import_not_found", "No such import"


@dataclasses.dataclass(frozen=True)
class ContactsImported(Event):
    """An import's rows were written: one event for the whole file."""

    type: ClassVar[str] = "crm.contacts.imported"

    import_id: uuid.UUID
    contacts: int
    companies: int
    skipped: int


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


#: A live contact holding any of the keys, on PostgreSQL: the keys go as one array parameter
#: (`= ANY($1)`, served by the same index as `IN`), not as one parameter per key.
_HELD_ANY = {
    key: select(getattr(Contact, key)).where(
        getattr(Contact, key) == any_(bindparam("keys", type_=ARRAY(String))),
        Contact.deleted_at.is_(None),
    )
    for key in ("email_key", "phone")
}


async def _held(session: AsyncSession, key: str, keys: Sequence[str]) -> set[str]:
    """Which of `keys` (e-mail keys or phones) a live contact of the business holds: one
    statement on PostgreSQL, chunks of an `IN` list on SQLite."""
    if not keys:
        return set()
    if is_postgresql(session):
        return set(await session.scalars(_HELD_ANY[key], {"keys": list(keys)}))
    column = getattr(Contact, key)
    held: set[str] = set()
    for chunk in _chunks(keys):
        held.update(
            await session.scalars(
                select(column).where(column.in_(chunk), Contact.deleted_at.is_(None))
            )
        )
    return held


def _reason(error: ValidationFailed) -> str:
    return error.errors[0].reason if error.errors else (error.detail or error.title)


def _read(content: bytes) -> tuple[list[str], list[dict[str, str]]]:
    """The header and rows of a UTF-8 CSV file; 422 `body.file` when it cannot be read."""
    if len(content) > MAX_BYTES:
        raise invalid("body.file", "The file is larger than 10 MB", "too_large")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise invalid("body.file", "The file is not UTF-8 text", "not_utf8") from None
    if "\x00" in text:
        raise invalid("body.file", "The file contains the NUL character", "not_csv")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [name.strip() for name in next(reader, [])]
        rows: list[dict[str, str]] = []
        for line in reader:
            if len(rows) >= MAX_ROWS:
                raise invalid("body.file", "The file has more than 200,000 rows", "too_many_rows")
            if any(cell.strip() for cell in line):
                rows.append(dict(zip(header, line, strict=False)))
            else:
                rows.append({})
    except csv.Error as error:
        raise invalid("body.file", f"Not a CSV file: {error}", "not_csv") from None
    return header, rows


def _check_header(header: list[str], definitions: Mapping[str, fields.FieldSpec]) -> None:
    if "first_name" not in header:
        raise invalid("body.file", "The header needs a first_name column", "missing_column")
    if len(set(header)) != len(header):
        raise invalid("body.file", "A column is named twice in the header", "duplicate_column")
    for name in header:
        if name in COLUMNS:
            continue
        if name.startswith("custom.") and name.removeprefix("custom.") in definitions:
            continue
        raise invalid("body.file", f"Unknown column {name!r}", "unknown_column")


def _custom_value(definition: fields.FieldSpec, text: str) -> Any:
    """A CSV cell as the value its field's kind expects (checked afterwards)."""
    if definition.kind == "number":
        try:
            return int(text)
        except ValueError:
            try:
                return float(text)
            except ValueError:
                return text
    if definition.kind == "boolean":
        lowered = text.casefold()
        return True if lowered in TRUE else False if lowered in FALSE else text
    return text


@dataclasses.dataclass
class _Checked:
    report: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    bad_rows: set[int] = dataclasses.field(default_factory=set)
    good: dict[int, dict[str, Any]] = dataclasses.field(default_factory=dict)

    def problem(self, row: int, column: str, problem: str) -> None:
        self.bad_rows.add(row)
        self.report.append({"row": row, "column": column, "problem": problem})


def _check_row(
    session: AsyncSession,
    checked: _Checked,
    line: int,
    cells: dict[str, str],
    country: str,
    definitions: Mapping[str, fields.FieldSpec],
) -> None:
    value = {name: (cells.get(name) or "").strip() for name in COLUMNS}
    for name, limit in LIMITS.items():
        if len(value[name]) > limit:
            checked.problem(line, name, f"Must be at most {limit} characters")
    if not value["first_name"]:
        checked.problem(line, "first_name", "Required")
    email = phone = None
    try:
        email = normalise_email(value["email"], field="email")
    except ValidationFailed as error:
        checked.problem(line, "email", _reason(error))
    try:
        phone = normalise_phone(value["phone"] or None, country, field="phone")
    except ValidationFailed as error:
        checked.problem(line, "phone", _reason(error))
    plain: dict[str, Any] = {}
    sensitive: dict[str, Any] = {}
    for key, definition in sorted(definitions.items()):
        column = f"custom.{key}"
        text = (cells.get(column) or "").strip()
        if not text:
            if definition.required:
                checked.problem(line, column, f"{definition.label} is required")
            continue
        try:
            stored = fields._checked(definition, _custom_value(definition, text))
        except ValidationFailed as error:
            checked.problem(line, column, _reason(error))
            continue
        (sensitive if definition.sensitive else plain)[key] = stored
    if line in checked.bad_rows:
        return
    sealed = fields.seal(session, sensitive)
    checked.good[line] = {
        "first_name": value["first_name"],
        "last_name": value["last_name"],
        "email": email,
        "email_key": email_key(email),
        "phone": phone,
        "job_title": value["job_title"] or None,
        "company": value["company"] or None,
        "tags": records.normalise_tags(value["tags"].split(";")),
        "custom": plain,
        "sensitive": base64.b64encode(sealed).decode() if sealed else None,
    }


async def _check_duplicates(session: AsyncSession, checked: _Checked) -> None:
    """Rows repeating an e-mail or phone of an earlier row, or of a live contact (set-based
    SELECTs: `_held`)."""
    for column, key in (("email", "email_key"), ("phone", "phone")):
        first_seen: dict[str, int] = {}
        for line, row in list(checked.good.items()):
            wanted = row[key]
            if wanted is None:
                continue
            if wanted in first_seen:
                checked.problem(line, column, f"Same {column} as row {first_seen[wanted]}")
                del checked.good[line]
            else:
                first_seen[wanted] = line
        taken = await _held(session, key, list(first_seen))
        for wanted in sorted(taken):
            line = first_seen[wanted]
            checked.problem(line, column, f"A contact with this {column} exists")
            checked.good.pop(line, None)


def _view(row: ContactImport) -> schemas.ContactImport:
    return schemas.ContactImport.model_validate(row)


async def start_import(
    session: AsyncSession,
    ctx: RequestContext,
    content: bytes,
    *,
    filename: str,
    only_valid: bool,
) -> schemas.ContactImport:
    """Validate the file and store the import with its report; enqueue the writing job
    unless there are invalid rows and `only_valid` is off (then nothing is written).

    The file is checked in a read-only session of its own, before the request's session
    writes anything: no write transaction (on SQLite, the write lock) is held while the rows
    are checked. The request's transaction then only stores the import and its job."""
    header, lines = _read(content)
    async with database_of(session).session(write=False) as reader:
        await bind_tenant(reader, ctx.tenant_id)
        definitions = await fields.definitions_of(reader, "contact")
        _check_header(header, definitions)
        country = await tenant_country(reader, ctx) if "phone" in header else "ZZ"
        checked = _Checked()
        for index, cells in enumerate(lines):
            if cells:
                _check_row(reader, checked, index + 2, cells, country, definitions)
        await _check_duplicates(reader, checked)
    total = sum(1 for cells in lines if cells)
    report = sorted(checked.report, key=lambda item: (item["row"], item["column"]))
    write = not checked.bad_rows or only_valid
    row = ContactImport(
        status="validated" if write else "invalid",
        filename=filename[:300] or "contacts.csv",
        only_valid=only_valid,
        total_rows=total,
        invalid_rows=len(checked.bad_rows),
        written_rows=0,
        report=report[:MAX_REPORT],
        created_by=ctx.user_id,
    )
    session.add(row)
    await session.flush()
    if write:
        rows = [{**checked.good[line], "row": line} for line in sorted(checked.good)]
        enqueue(
            session,
            IMPORT_JOB,
            {"import_id": str(row.id), "owner_id": str(ctx.user_id or ""), "rows": rows},
            tenant_id=ctx.tenant_id,
            max_attempts=3,
        )
    record(
        session,
        ctx,
        "crm.import.started",
        target_type="crm_import",
        target_id=row.id,
        changes=["status"],
    )
    return _view(row)


async def _company_ids(
    session: AsyncSession, ctx: RequestContext, names: list[str], owner_id: uuid.UUID | None
) -> tuple[dict[str, uuid.UUID], int]:
    """The live company of each name (case-insensitive), creating the missing ones."""
    by_key = {search_key(name): name for name in names}
    ids: dict[str, uuid.UUID] = {}
    for chunk in _chunks(sorted(by_key)):
        found = await session.execute(
            select(Company.search_name, Company.id)
            .where(Company.search_name.in_(chunk), Company.deleted_at.is_(None))
            .order_by(Company.created_at, Company.id)
        )
        for key, company_id in found:
            ids.setdefault(key, company_id)
    missing = [key for key in sorted(by_key) if key not in ids]
    now = utcnow()
    new_rows: list[dict[str, Any]] = []
    for key in missing:
        ids[key] = new_id()
        new_rows.append(
            {
                "id": ids[key],
                "tenant_id": ctx.tenant_id,
                "name": by_key[key],
                "search_name": key,
                "tags": [],
                "custom": {},
                "owner_id": owner_id,
                "created_at": now,
                "updated_at": now,
                "version": 1,
            }
        )
    for chunk in _chunks(new_rows):
        await session.execute(insert(cast(Table, Company.__table__)), list(chunk))
    return ids, len(new_rows)


async def _not_taken_since(
    session: AsyncSession, row: ContactImport, rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The rows whose e-mail and phone are still free. A live contact with the same e-mail or
    phone may have been added between the validation and this job: such rows are skipped and
    added to the import's report (and `invalid_rows`), the others are written. (Set-based
    SELECTs, `_held`, in the job's write transaction.)"""
    taken: dict[str, set[str]] = {}
    for key in ("email_key", "phone"):
        wanted = sorted({item[key] for item in rows if item[key] is not None})
        taken[key] = await _held(session, key, wanted)
    if not taken["email_key"] and not taken["phone"]:
        return rows
    kept: list[dict[str, Any]] = []
    problems: list[dict[str, Any]] = []
    for item in rows:
        clash = next(
            (
                column
                for column, key in (("email", "email_key"), ("phone", "phone"))
                if item[key] is not None and item[key] in taken[key]
            ),
            None,
        )
        if clash is None:
            kept.append(item)
        else:
            problems.append(
                {
                    "row": item.get("row", 0),
                    "column": clash,
                    "problem": f"A contact with this {clash} was added since the file was checked",
                }
            )
    report = sorted([*row.report, *problems], key=lambda item: (item["row"], item["column"]))
    row.report = report[:MAX_REPORT]
    row.invalid_rows += len(problems)
    return kept


async def import_job(session: AsyncSession, ctx: RequestContext, payload: dict[str, Any]) -> None:
    """Write an import's valid rows set-based, in this job's one transaction."""
    row = await session.scalar(
        select(ContactImport).where(ContactImport.id == uuid.UUID(payload["import_id"]))
    )
    if row is None or row.status != "validated":
        return
    owner_id = uuid.UUID(payload["owner_id"]) if payload.get("owner_id") else None
    rows = await _not_taken_since(session, row, payload["rows"])
    names = [item["company"] for item in rows if item["company"]]
    company_ids, companies = await _company_ids(session, ctx, names, owner_id)
    now = utcnow()
    contacts = [
        {
            "id": new_id(),
            "tenant_id": ctx.tenant_id,
            "first_name": item["first_name"],
            "last_name": item["last_name"],
            "search_name": search_key(f"{item['first_name']} {item['last_name']}".strip()),
            "email": item["email"],
            "email_key": item["email_key"],
            "phone": item["phone"],
            "job_title": item["job_title"],
            "company_id": company_ids[search_key(item["company"])] if item["company"] else None,
            "tags": item["tags"],
            "custom": item["custom"],
            "sensitive_encrypted": base64.b64decode(item["sensitive"])
            if item["sensitive"]
            else None,
            "source": "import",
            "owner_id": owner_id,
            "created_at": now,
            "updated_at": now,
            "version": 1,
        }
        for item in rows
    ]
    for chunk in _chunks(contacts):
        await session.execute(insert(cast(Table, Contact.__table__)), list(chunk))
    row.written_rows = len(contacts)
    row.status = "done"
    row.finished_at = now
    await session.flush()
    publish(
        session,
        ctx,
        ContactsImported(row.id, len(contacts), companies, row.total_rows - len(contacts)),
    )
    record(
        session,
        ctx,
        "crm.contacts.imported",
        target_type="crm_import",
        target_id=row.id,
        changes=["written_rows", "status"],
    )


async def get_import(
    session: AsyncSession, ctx: RequestContext, import_id: uuid.UUID
) -> schemas.ContactImport:
    row = await session.scalar(select(ContactImport).where(ContactImport.id == import_id))
    if row is None:
        raise ImportNotFound()
    return _view(row)


async def list_imports(
    session: AsyncSession, ctx: RequestContext, *, limit: int = 50, cursor: str | None = None
) -> schemas.Page[schemas.ContactImport]:
    """Imports newest first; one query."""
    page = await paginate(
        session,
        select(ContactImport),
        sort=ContactImport.created_at,
        id_column=ContactImport.id,
        limit=limit,
        cursor=cursor,
        descending=True,
    )
    return schemas.Page(items=[_view(row) for row in page.items], next_cursor=page.next_cursor)
