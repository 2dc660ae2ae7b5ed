"""API shapes of leads and their conversion, of consent, and of a contact's data export."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StringConstraints

from nexus.identity.schemas import Schema
from nexus.identity.schemas.team import (
    NoNul,
    Page,
    Required100,
    Required200,
    SearchText,
    Strip,
    Text32,
    Text100,
    Text200,
)

__all__ = ["Page", "SearchText"]

LeadStatus = Literal["new", "contacted", "qualified", "converted", "disqualified"]
#: What a lead's status may be set to by hand (conversion sets `converted`).
OpenLeadStatus = Literal["new", "contacted", "qualified", "disqualified"]
ConsentChannel = Literal["email", "sms", "whatsapp", "phone", "post"]
Email = Annotated[str, Strip, StringConstraints(max_length=320), NoNul]
Notes = Annotated[str, Strip, StringConstraints(max_length=5000), NoNul]
CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
MAX_AMOUNT_MINOR = 10**15
VERSION_DESCRIPTION = "The version being changed; or send it as If-Match"


# --- leads ---------------------------------------------------------------------------------


class Lead(Schema):
    id: uuid.UUID
    name: str
    email: str | None
    phone: str | None = Field(description="E.164")
    company_name: str | None
    source: str | None
    status: LeadStatus
    notes: str | None
    custom: dict[str, Any]
    owner_id: uuid.UUID | None
    converted_contact_id: uuid.UUID | None
    converted_company_id: uuid.UUID | None
    converted_deal_id: uuid.UUID | None
    converted_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int


class LeadCreate(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Chidi Okafor",
                    "email": "chidi@okafor-foods.ng",
                    "phone": "0803 123 4567",
                    "company_name": "Okafor Foods",
                    "source": "website",
                }
            ]
        }
    )

    name: Required200
    email: Email | None = None
    phone: Text32 | None = Field(default=None, description="Read in the business's country")
    company_name: Text200 | None = None
    source: Text100 | None = None
    status: OpenLeadStatus = "new"
    notes: Notes | None = None
    custom: dict[str, Any] = Field(
        default_factory=dict, max_length=200, description="Values of the lead custom fields"
    )
    owner_id: uuid.UUID | None = Field(default=None, description="Defaults to you")


class LeadUpdate(Schema):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"status": "qualified", "version": 1}]}
    )

    name: Required200 | None = None
    email: Email | None = None
    phone: Text32 | None = None
    company_name: Text200 | None = None
    source: Text100 | None = None
    status: OpenLeadStatus | None = None
    notes: Notes | None = None
    custom: dict[str, Any] | None = Field(
        default=None, max_length=200, description="Merged into the values held; `null` clears"
    )
    owner_id: uuid.UUID | None = None
    version: int | None = Field(default=None, description=VERSION_DESCRIPTION)


class MoneyInput(Schema):
    amount_minor: int = Field(ge=0, le=MAX_AMOUNT_MINOR, description="Minor units (kobo)")
    currency: CurrencyCode | None = Field(
        default=None, description="ISO 4217; the business's currency when omitted"
    )


class ConversionDeal(Schema):
    title: Required200
    amount: MoneyInput | None = None
    pipeline_id: uuid.UUID | None = Field(
        default=None,
        description="The default pipeline when omitted; the deal enters its first open stage",
    )


class LeadConversion(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {},
                {"deal": {"title": "Office catering", "amount": {"amount_minor": 50000000}}},
            ]
        }
    )

    deal: ConversionDeal | None = Field(default=None, description="Also open a deal")


class LeadConverted(Schema):
    """What a conversion made or reused."""

    lead: Lead
    contact_id: uuid.UUID
    contact_created: bool = Field(
        description="False when a contact with the e-mail or phone was reused"
    )
    company_id: uuid.UUID | None
    company_created: bool = Field(description="False when a company of that name was reused")
    deal_id: uuid.UUID | None


# --- consent -------------------------------------------------------------------------------


class Consent(Schema):
    id: uuid.UUID
    contact_id: uuid.UUID
    channel: ConsentChannel
    purpose: str
    source: str
    granted_at: dt.datetime
    withdrawn_at: dt.datetime | None
    is_active: bool
    recorded_by: uuid.UUID | None


class ConsentCreate(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"channel": "whatsapp", "purpose": "appointment reminders", "source": "front desk"}
            ]
        }
    )

    channel: ConsentChannel
    purpose: Required100 = Field(description="What the contact agreed to be contacted about")
    source: Required200 = Field(description="Where or how the consent was given")


# --- data protection -----------------------------------------------------------------------


class ContactExport(Schema):
    """Everything held on a contact (NDPA/GDPR access request)."""

    exported_at: dt.datetime
    contact: dict[str, Any] = Field(description="The contact, sensitive values decrypted")
    consents: list[Consent]
    activities: list[dict[str, Any]]
    deals: list[dict[str, Any]]
    leads: list[dict[str, Any]] = Field(description="Leads converted into this contact")
    audit_events: list[dict[str, Any]] = Field(description="The audit log of the contact")


class ContactErasure(Schema):
    contact_id: uuid.UUID
    erased_at: dt.datetime
    consents: int = Field(description="Consent records kept as proof, without personal data")
    activities: int = Field(description="Activities whose text was cleared")
    leads: int = Field(description="Converted leads whose personal data was cleared")
