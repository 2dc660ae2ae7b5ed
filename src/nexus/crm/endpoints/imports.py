"""`/api/v1/crm/imports`: CSV import of contacts (the exports are in `exports.py`)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.datastructures import UploadFile

from nexus.core.context import RequestContext
from nexus.core.errors import invalid
from nexus.core.http import NexusRoute, Session, problems, require
from nexus.crm.schemas_imports import ContactImport, Page
from nexus.crm.service import imports

router = APIRouter(route_class=NexusRoute, prefix="/api/v1/crm", tags=["crm"])

Runner = Annotated[RequestContext, require("crm.import.run")]
Limit = Annotated[int, Query(ge=1, le=200, description="Items per page")]
Cursor = Annotated[str | None, Query(description="`next_cursor` of the previous page")]

UPLOAD = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "only_valid": {"type": "boolean", "default": False},
                    },
                }
            },
            "text/csv": {"schema": {"type": "string"}},
        },
    }
}
TRUE = {"true", "1", "yes", "on"}


async def _upload(request: Request) -> tuple[bytes, str, bool | None]:
    """The file's bytes, its name, and `only_valid` when the form sends it."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "multipart/form-data":
        body = await request.body()
        return body, "contacts.csv", None
    try:
        form = await request.form(max_files=1, max_fields=10, max_part_size=imports.MAX_BYTES + 1)
    except Exception:
        raise invalid("body.file", "Not a readable multipart form", "malformed") from None
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise invalid("body.file", "Send the CSV file as the `file` field", "missing")
    content = await upload.read(imports.MAX_BYTES + 1)
    flag = form.get("only_valid")
    only_valid = str(flag).strip().lower() in TRUE if isinstance(flag, str) else None
    return content, upload.filename or "contacts.csv", only_valid


@router.post(
    "/imports",
    response_model=ContactImport,
    status_code=201,
    summary="Import contacts from CSV",
    description="A UTF-8 CSV (multipart field `file`, or the body as `text/csv`), at most "
    "10 MB and 200,000 rows, with a header naming its columns: `first_name` (required), "
    "`last_name`, `email`, `phone` (national numbers read in the business's country), "
    "`job_title`, `company` (a live company of that name, case-insensitive, or a new one), "
    "`tags` (separated by `;`) and `custom.<key>` for custom fields. Every row is checked "
    "before anything is written, including repeated e-mails and phones within the file and "
    "against live contacts; `report` lists each problem by row (the file's line) and column. "
    "Always 201: with invalid rows and `only_valid` off the import's status is `invalid` "
    "and nothing is written; otherwise it is `validated` and the valid rows are written in "
    "the background (poll the import until `done`). A file that cannot be read at all, or "
    "with an unknown column, answers 422.",
    responses=problems(422),
    openapi_extra=UPLOAD,
)
async def create(
    request: Request,
    session: Session,
    ctx: Runner,
    only_valid: Annotated[
        bool, Query(description="Write the valid rows even if some are invalid")
    ] = False,
) -> ContactImport:
    content, filename, form_flag = await _upload(request)
    return await imports.start_import(
        session,
        ctx,
        content,
        filename=filename,
        only_valid=only_valid if form_flag is None else form_flag,
    )


@router.get(
    "/imports",
    response_model=Page[ContactImport],
    summary="List contact imports",
    description="Newest first.",
    responses=problems(422),
)
async def list(
    session: Session, ctx: Runner, limit: Limit = 50, cursor: Cursor = None
) -> Page[ContactImport]:
    return await imports.list_imports(session, ctx, limit=limit, cursor=cursor)


@router.get(
    "/imports/{import_id}",
    response_model=ContactImport,
    summary="A contact import: its status, counts and report",
)
async def get(session: Session, ctx: Runner, import_id: uuid.UUID) -> ContactImport:
    return await imports.get_import(session, ctx, import_id)
