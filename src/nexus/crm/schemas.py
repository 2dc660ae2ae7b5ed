"""API shapes of contacts, companies and their custom field definitions.

`custom` holds a record's custom field values by key, checked against the business's field
definitions. Values of fields marked sensitive are sent in `custom` like any other, stored
encrypted, and shown in `custom` only to callers holding `crm.sensitive.read` (each such read
is audited, naming the fields).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StringConstraints

from nexus.identity.schemas import Schema
from nexus.identity.schemas.team import (
    Address,
    NoNul,
    Page,
    Required100,
    Required200,
    SearchText,
    Strip,
    Text32,
    Text100,
    Text200,
    Text300,
)

__all__ = ["Address", "Page", "SearchText"]

FieldEntity = Literal["contact", "company", "deal", "lead"]
FieldKind = Literal["text", "number", "date", "choice", "boolean"]
FieldKey = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,49}$")]
Choice = Annotated[str, Strip, StringConstraints(min_length=1, max_length=100), NoNul]
Tag = Annotated[str, Strip, StringConstraints(min_length=1, max_length=50), NoNul]
Email = Annotated[str, Strip, StringConstraints(max_length=320), NoNul]
Phone = Text32
RecordSort = Literal["created", "-created", "name", "-name"]
Tags = Annotated[list[Tag], Field(max_length=50, description="Labels; compared case-insensitively")]
CustomValues = Annotated[
    dict[str, Any],
    Field(
        max_length=200,
        description="Custom field values by key: text, number, `YYYY-MM-DD` date, one of the "
        "choices, or true/false, as the field's definition says; `null` clears a value",
    ),
]
VERSION_DESCRIPTION = "The version being changed; or send it as If-Match"


# --- custom field definitions --------------------------------------------------------------


class FieldDefinition(Schema):
    """A custom field of contacts, companies, deals or leads."""

    id: uuid.UUID
    entity: FieldEntity
    key: str
    label: str
    kind: FieldKind
    choices: list[str]
    required: bool
    sensitive: bool = Field(description="Stored encrypted; shown only with crm.sensitive.read")
    position: int
    version: int
    created_at: dt.datetime


class FieldDefinitionCreate(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "entity": "contact",
                    "key": "allergies",
                    "label": "Allergies",
                    "kind": "text",
                    "sensitive": True,
                },
                {
                    "entity": "contact",
                    "key": "blood_group",
                    "label": "Blood group",
                    "kind": "choice",
                    "choices": ["A", "B", "AB", "O"],
                },
            ]
        }
    )

    entity: FieldEntity
    key: FieldKey = Field(description="How values are named in `custom`; cannot change later")
    label: Required100
    kind: FieldKind = Field(description="Cannot change later")
    choices: list[Choice] = Field(
        default_factory=list, max_length=100, description="The allowed values of a `choice` field"
    )
    required: bool = False
    sensitive: bool = Field(default=False, description="Cannot change later")
    position: int = Field(default=0, ge=0, le=10_000)


class FieldDefinitionUpdate(Schema):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"label": "Known allergies", "version": 1}]}
    )

    label: Required100 | None = None
    choices: list[Choice] | None = Field(default=None, max_length=100)
    required: bool | None = None
    position: int | None = Field(default=None, ge=0, le=10_000)
    version: int | None = Field(default=None, description=VERSION_DESCRIPTION)


# --- companies -----------------------------------------------------------------------------


class Company(Schema):
    id: uuid.UUID
    name: str
    domain: str | None
    email: str | None
    phone: str | None = Field(description="E.164")
    website: str | None
    industry: str | None
    address: dict[str, Any] | None
    tags: list[str]
    custom: dict[str, Any] = Field(
        description="Custom field values; sensitive ones only for crm.sensitive.read holders"
    )
    has_sensitive: bool = Field(description="Whether the record holds sensitive values")
    owner_id: uuid.UUID | None
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int


class CompanyCreate(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Ada Stores Limited",
                    "email": "hello@adastores.ng",
                    "phone": "0803 123 4567",
                    "website": "https://adastores.ng",
                    "tags": ["retail"],
                }
            ]
        }
    )

    name: Required200
    domain: Text200 | None = None
    email: Email | None = None
    phone: Phone | None = Field(default=None, description="Read in the business's country")
    website: Text300 | None = None
    industry: Text100 | None = None
    address: Address | None = None
    tags: Tags = Field(default_factory=list)
    custom: CustomValues = Field(default_factory=dict)
    owner_id: uuid.UUID | None = Field(default=None, description="Defaults to you")


class CompanyUpdate(Schema):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"industry": "Retail", "tags": ["retail"], "version": 1}]}
    )

    name: Required200 | None = None
    domain: Text200 | None = None
    email: Email | None = None
    phone: Phone | None = None
    website: Text300 | None = None
    industry: Text100 | None = None
    address: Address | None = None
    tags: Tags | None = None
    custom: CustomValues | None = Field(
        default=None, description="Merged into the values held; `null` clears a key"
    )
    owner_id: uuid.UUID | None = None
    version: int | None = Field(default=None, description=VERSION_DESCRIPTION)


# --- contacts ------------------------------------------------------------------------------


class Contact(Schema):
    id: uuid.UUID
    first_name: str
    last_name: str
    email: str | None
    phone: str | None = Field(description="E.164")
    job_title: str | None
    company_id: uuid.UUID | None
    address: dict[str, Any] | None
    tags: list[str]
    custom: dict[str, Any] = Field(
        description="Custom field values; sensitive ones only for crm.sensitive.read holders"
    )
    has_sensitive: bool = Field(description="Whether the record holds sensitive values")
    source: str | None
    owner_id: uuid.UUID | None
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int


class ContactCreate(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "first_name": "Chioma",
                    "last_name": "Okafor",
                    "email": "chioma@example.com",
                    "phone": "0803 123 4567",
                    "tags": ["vip"],
                    "custom": {"allergies": "penicillin"},
                }
            ]
        }
    )

    first_name: Required100
    last_name: Text100 = ""
    email: Email | None = None
    phone: Phone | None = Field(default=None, description="Read in the business's country")
    job_title: Text200 | None = None
    company_id: uuid.UUID | None = None
    address: Address | None = None
    tags: Tags = Field(default_factory=list)
    custom: CustomValues = Field(default_factory=dict)
    source: Text100 | None = None
    owner_id: uuid.UUID | None = Field(default=None, description="Defaults to you")


class ContactUpdate(Schema):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"job_title": "Head of sales", "version": 1}]}
    )

    first_name: Required100 | None = None
    last_name: Text100 | None = None
    email: Email | None = None
    phone: Phone | None = None
    job_title: Text200 | None = None
    company_id: uuid.UUID | None = None
    address: Address | None = None
    tags: Tags | None = None
    custom: CustomValues | None = Field(
        default=None, description="Merged into the values held; `null` clears a key"
    )
    source: Text100 | None = None
    owner_id: uuid.UUID | None = None
    version: int | None = Field(default=None, description=VERSION_DESCRIPTION)


class Merge(Schema):
    """Merge another record into this one."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"from_id": "0192f0c4-8f3a-7cc1-9d2e-1a2b3c4d5e6f"}]}
    )

    from_id: uuid.UUID = Field(description="The record merged into this one, then retired")
