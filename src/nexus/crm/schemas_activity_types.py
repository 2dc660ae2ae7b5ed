"""API shapes of activity types: the built-in kinds and the business's own."""

from __future__ import annotations

import uuid

from pydantic import ConfigDict, Field

from nexus.crm.schemas_deals import ActivityKind
from nexus.identity.schemas import Schema
from nexus.identity.schemas.team import Page, Required100

__all__ = ["ActivityType", "ActivityTypeCreate", "ActivityTypeUpdate", "Page"]


class ActivityType(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"id": None, "key": "call", "name": "Call", "builtin": True},
                {
                    "id": "0190a1b2-0000-7000-8000-000000000001",
                    "key": "consultation",
                    "name": "Consultation",
                    "builtin": False,
                },
            ]
        }
    )

    id: uuid.UUID | None = Field(description="None for the built-in kinds")
    key: str = Field(description="What activities carry as their `kind`")
    name: str
    builtin: bool = Field(description="call, meeting, task, note and email: fixed")


class ActivityTypeCreate(Schema):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"key": "site_visit", "name": "Site visit"}]}
    )

    key: ActivityKind = Field(description="Lower-case letters, digits and `_`; fixed once made")
    name: Required100


class ActivityTypeUpdate(Schema):
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "Home visit"}]})

    name: Required100
