"""CRM records. Every table is a tenant table: `(tenant_id, id)` keys and tenant-inclusive
references, so the database refuses a record pointing at another business's record.

Search columns hold a case-folded copy (`*_key`, `search_name`) so case-insensitive search and
duplicate detection work the same on SQLite and PostgreSQL, through plain indexes.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from nexus.core.concurrency import Versioned
from nexus.core.db import Base, TenantScoped, tenant_foreign_key
from nexus.core.tenant_config import tenant_configuration
from nexus.core.types import JSONType, UTCDateTime, utcnow

#: Kinds of custom field.
FIELD_KINDS = ("text", "number", "date", "choice", "boolean")
#: Records custom fields may be defined on.
FIELD_ENTITIES = ("contact", "company", "deal", "lead")
#: Activity kinds every business has; presets add their own (`crm_activity_types`).
BUILTIN_ACTIVITY_KINDS = ("call", "meeting", "task", "note", "email")
STAGE_KINDS = ("open", "won", "lost")
DEAL_STATUSES = ("open", "won", "lost")
LEAD_STATUSES = ("new", "contacted", "qualified", "converted", "disqualified")
CONSENT_CHANNELS = ("email", "sms", "whatsapp", "phone", "post")


def _user_reference() -> Mapped[uuid.UUID | None]:
    return mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


@tenant_configuration
class FieldDefinition(Versioned, TenantScoped, Base):
    """A custom field of contacts, companies, deals or leads. A `sensitive` field (a clinic's
    allergies) is stored encrypted, shown only to roles holding `crm.sensitive.read`, and
    every read of it is audited."""

    __tablename__ = "crm_field_definitions"
    __table_args__ = (UniqueConstraint("tenant_id", "entity", "key"),)

    entity: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(50))
    label: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    choices: Mapped[list[str]] = mapped_column(JSONType, default=list)
    required: Mapped[bool] = mapped_column(default=False)
    sensitive: Mapped[bool] = mapped_column(default=False)
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Company(Versioned, TenantScoped, Base):
    __tablename__ = "crm_companies"
    __table_args__ = (
        Index("ix_crm_companies_search", "tenant_id", "search_name"),
        Index("ix_crm_companies_email", "tenant_id", "email_key"),
        Index("ix_crm_companies_phone", "tenant_id", "phone"),
        Index("ix_crm_companies_created", "tenant_id", "created_at", "id"),
    )

    name: Mapped[str] = mapped_column(String(200))
    search_name: Mapped[str] = mapped_column(String(200))
    domain: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    email_key: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(32))
    website: Mapped[str | None] = mapped_column(String(300))
    industry: Mapped[str | None] = mapped_column(String(100))
    address: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    custom: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    sensitive_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    owner_id: Mapped[uuid.UUID | None] = _user_reference()
    merged_into_id: Mapped[uuid.UUID | None]
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Contact(Versioned, TenantScoped, Base):
    __tablename__ = "crm_contacts"
    __table_args__ = (
        tenant_foreign_key(["company_id"], "crm_companies"),
        Index("ix_crm_contacts_search", "tenant_id", "search_name"),
        Index("ix_crm_contacts_email", "tenant_id", "email_key"),
        Index("ix_crm_contacts_phone", "tenant_id", "phone"),
        Index("ix_crm_contacts_created", "tenant_id", "created_at", "id"),
        Index("ix_crm_contacts_company", "tenant_id", "company_id"),
    )

    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100), default="")
    search_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    email_key: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(32))
    job_title: Mapped[str | None] = mapped_column(String(200))
    company_id: Mapped[uuid.UUID | None]
    address: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    custom: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    sensitive_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    source: Mapped[str | None] = mapped_column(String(100))
    owner_id: Mapped[uuid.UUID | None] = _user_reference()
    merged_into_id: Mapped[uuid.UUID | None]
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    erased_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Pipeline(Versioned, TenantScoped, Base):
    __tablename__ = "crm_pipelines"
    __table_args__ = (UniqueConstraint("tenant_id", "key"),)

    key: Mapped[str] = mapped_column(String(50))
    name: Mapped[str] = mapped_column(String(100))
    is_default: Mapped[bool] = mapped_column(default=False)
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Stage(Versioned, TenantScoped, Base):
    """A step of a pipeline: ordered, with the probability a deal there is won."""

    __tablename__ = "crm_stages"
    __table_args__ = (
        tenant_foreign_key(["pipeline_id"], "crm_pipelines", ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "pipeline_id", "key"),
    )

    pipeline_id: Mapped[uuid.UUID]
    key: Mapped[str] = mapped_column(String(50))
    name: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(default=0)
    probability: Mapped[int] = mapped_column(default=0)
    kind: Mapped[str] = mapped_column(String(8), default="open")


class Deal(Versioned, TenantScoped, Base):
    __tablename__ = "crm_deals"
    __table_args__ = (
        tenant_foreign_key(["pipeline_id"], "crm_pipelines"),
        tenant_foreign_key(["stage_id"], "crm_stages"),
        tenant_foreign_key(["contact_id"], "crm_contacts"),
        tenant_foreign_key(["company_id"], "crm_companies"),
        Index("ix_crm_deals_stage", "tenant_id", "pipeline_id", "stage_id"),
        Index("ix_crm_deals_created", "tenant_id", "created_at", "id"),
    )

    title: Mapped[str] = mapped_column(String(200))
    pipeline_id: Mapped[uuid.UUID]
    stage_id: Mapped[uuid.UUID]
    amount_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str] = mapped_column(String(3))
    expected_close: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(8), default="open")
    lost_reason: Mapped[str | None] = mapped_column(String(500))
    contact_id: Mapped[uuid.UUID | None]
    company_id: Mapped[uuid.UUID | None]
    owner_id: Mapped[uuid.UUID | None] = _user_reference()
    custom: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    stage_changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class ActivityType(TenantScoped, Base):
    """An activity kind a business adds to the built-in ones (a clinic's `consultation`)."""

    __tablename__ = "crm_activity_types"
    __table_args__ = (UniqueConstraint("tenant_id", "key"),)

    key: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))


class Activity(Versioned, TenantScoped, Base):
    __tablename__ = "crm_activities"
    __table_args__ = (
        tenant_foreign_key(["contact_id"], "crm_contacts"),
        tenant_foreign_key(["company_id"], "crm_companies"),
        tenant_foreign_key(["deal_id"], "crm_deals"),
        Index("ix_crm_activities_contact", "tenant_id", "contact_id", "created_at"),
        Index("ix_crm_activities_assignee", "tenant_id", "assignee_id", "done_at"),
    )

    kind: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str | None] = mapped_column(Text)
    due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    done_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    assignee_id: Mapped[uuid.UUID | None] = _user_reference()
    contact_id: Mapped[uuid.UUID | None]
    company_id: Mapped[uuid.UUID | None]
    deal_id: Mapped[uuid.UUID | None]
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Lead(Versioned, TenantScoped, Base):
    __tablename__ = "crm_leads"
    __table_args__ = (
        Index("ix_crm_leads_search", "tenant_id", "search_name"),
        Index("ix_crm_leads_created", "tenant_id", "created_at", "id"),
    )

    name: Mapped[str] = mapped_column(String(200))
    search_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    email_key: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(32))
    company_name: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), default="new")
    notes: Mapped[str | None] = mapped_column(Text)
    custom: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    owner_id: Mapped[uuid.UUID | None] = _user_reference()
    converted_contact_id: Mapped[uuid.UUID | None]
    converted_company_id: Mapped[uuid.UUID | None]
    converted_deal_id: Mapped[uuid.UUID | None]
    converted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Consent(TenantScoped, Base):
    """A contact's consent to be reached on a channel for a purpose; withdrawn, not deleted."""

    __tablename__ = "crm_consents"
    __table_args__ = (
        tenant_foreign_key(["contact_id"], "crm_contacts", ondelete="CASCADE"),
        Index("ix_crm_consents_contact", "tenant_id", "contact_id"),
    )

    contact_id: Mapped[uuid.UUID]
    channel: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(200))
    granted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    recorded_by: Mapped[uuid.UUID | None]


class ContactImport(TenantScoped, Base):
    """A CSV import: validated first, written set-based by a job, with its report."""

    __tablename__ = "crm_imports"

    status: Mapped[str] = mapped_column(String(16), default="validating")
    filename: Mapped[str] = mapped_column(String(300))
    only_valid: Mapped[bool] = mapped_column(default=False)
    total_rows: Mapped[int] = mapped_column(default=0)
    invalid_rows: Mapped[int] = mapped_column(default=0)
    written_rows: Mapped[int] = mapped_column(default=0)
    report: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
