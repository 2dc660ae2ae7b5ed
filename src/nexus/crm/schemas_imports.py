"""API shapes of CSV imports of contacts."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from pydantic import ConfigDict, Field

from nexus.identity.schemas import Schema
from nexus.identity.schemas.team import Page

__all__ = ["ContactImport", "ImportProblem", "Page"]

ImportStatus = Literal["validating", "invalid", "validated", "done"]


class ImportProblem(Schema):
    row: int = Field(description="Line of the file (the header is line 1)")
    column: str
    problem: str


class ContactImport(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "id": "0190a1b2-0000-7000-8000-000000000001",
                "status": "invalid",
                "filename": "contacts.csv",
                "only_valid": False,
                "total_rows": 2,
                "invalid_rows": 1,
                "written_rows": 0,
                "report": [{"row": 3, "column": "email", "problem": "Not an e-mail address"}],
                "created_by": None,
                "created_at": "2026-01-01T00:00:00Z",
                "finished_at": None,
            }
        }
    )

    id: uuid.UUID
    status: ImportStatus = Field(
        description="`invalid`: some rows are invalid and nothing is written; `validated`: "
        "the valid rows are being written; `done`: they are written"
    )
    filename: str
    only_valid: bool
    total_rows: int
    invalid_rows: int
    written_rows: int
    report: list[ImportProblem]
    created_by: uuid.UUID | None
    created_at: dt.datetime
    finished_at: dt.datetime | None
