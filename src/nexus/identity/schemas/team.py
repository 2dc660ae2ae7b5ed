"""API shapes of the team and its access: members, roles, permissions, API keys, the audit
log, and the business profile with its branches and integrations."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
)

from nexus.identity.schemas import Schema

T = TypeVar("T")


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL; refuse it as bad input rather than fail on write.
    if "\x00" in value:
        raise ValueError("must not contain the NUL character")
    return value


def _in_utc(value: dt.datetime) -> dt.datetime:
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:
        raise ValueError("is out of range") from None


NoNul = AfterValidator(_no_nul)
Strip = StringConstraints(strip_whitespace=True)
Text20 = Annotated[str, Strip, StringConstraints(max_length=20), NoNul]
Text32 = Annotated[str, Strip, StringConstraints(max_length=32), NoNul]
Text64 = Annotated[str, Strip, StringConstraints(max_length=64), NoNul]
Text100 = Annotated[str, Strip, StringConstraints(max_length=100), NoNul]
Text200 = Annotated[str, Strip, StringConstraints(max_length=200), NoNul]
Text300 = Annotated[str, Strip, StringConstraints(max_length=300), NoNul]
Text500 = Annotated[str, Strip, StringConstraints(max_length=500), NoNul]
Required100 = Annotated[str, Strip, StringConstraints(min_length=1, max_length=100), NoNul]
Required200 = Annotated[str, Strip, StringConstraints(min_length=1, max_length=200), NoNul]
Required500 = Annotated[str, Strip, StringConstraints(min_length=1, max_length=500), NoNul]
#: An aware datetime, in UTC; values UTC cannot hold are refused.
UTCTime = Annotated[AwareDatetime, AfterValidator(_in_utc)]
#: Free text for a search box or a filter.
SearchText = Annotated[str, StringConstraints(max_length=200), AfterValidator(_no_nul)]

Name = Required200
RoleKey = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,49}$")]
MemberStatus = Literal["active", "invited", "deactivated"]


class Page(BaseModel, Generic[T]):
    """One page of a list; pass `next_cursor` back as `cursor` for the next (null at the end)."""

    items: list[T]
    next_cursor: str | None = None


# --- members -------------------------------------------------------------------------------


class Member(Schema):
    """A person in the business: the user and their membership (role, status)."""

    user_id: uuid.UUID
    email: str
    name: str
    role: str
    status: MemberStatus
    joined_at: dt.datetime
    version: int = Field(description="The membership's version, for PATCH")


class MemberInvite(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"email": "bola@example.com", "role": "staff", "name": "Bola Adeyemi"}]
        }
    )

    email: EmailStr
    role: RoleKey = Field(description="The key of the role to give, e.g. `staff`")
    name: Text200 | None = None


class MemberUpdate(Schema):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"role": "manager", "version": 1}, {"name": "Bola A."}]}
    )

    role: RoleKey | None = None
    name: Name | None = None
    version: int | None = Field(default=None, description="Or send it as If-Match")


# --- roles and permissions -----------------------------------------------------------------


class Role(Schema):
    id: uuid.UUID
    key: str
    name: str
    description: str
    permissions: list[str]
    is_builtin: bool
    member_count: int = Field(description="Memberships holding the role, of any status")
    version: int
    created_at: dt.datetime


class RoleCreate(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "key": "cashier",
                    "name": "Cashier",
                    "description": "Takes payments at the counter",
                    "permissions": ["identity.tenant.read", "identity.user.read"],
                }
            ]
        }
    )

    key: RoleKey
    name: Required100
    description: Text500 = ""
    permissions: list[str] = Field(
        max_length=500, description="Permission names, or `module.*` for a whole module"
    )


class RoleUpdate(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"permissions": ["identity.*"], "version": 1}, {"name": "Head cashier"}]
        }
    )

    name: Required100 | None = None
    description: Text500 | None = None
    permissions: list[str] | None = Field(default=None, max_length=500)
    version: int | None = Field(default=None, description="Or send it as If-Match")


class PermissionInfo(Schema):
    name: str
    description: str


class PermissionGroup(Schema):
    module: str
    title: str
    is_enabled: bool = Field(description="Whether the module is enabled for this business")
    permissions: list[PermissionInfo]


class PermissionCatalog(Schema):
    items: list[PermissionGroup]


# --- API keys ------------------------------------------------------------------------------


class ApiKey(Schema):
    """An API key without its secret."""

    id: uuid.UUID
    name: str
    prefix: str = Field(description="The first characters of the key, to recognise it")
    scopes: list[str]
    created_by: uuid.UUID | None = Field(description="The user who made the key")
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None


class ApiKeyCreated(ApiKey):
    key: str = Field(description="The secret key; shown only in this response")


class ApiKeyCreate(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Accounting sync",
                    "scopes": ["identity.tenant.read"],
                    "expires_at": "2027-01-01T00:00:00Z",
                }
            ]
        }
    )

    name: Required100
    scopes: list[str] = Field(
        min_length=1, max_length=500, description="Permissions the key holds (you must hold them)"
    )
    expires_at: UTCTime | None = None


# --- the audit log -------------------------------------------------------------------------


class AuditEvent(Schema):
    id: uuid.UUID
    occurred_at: dt.datetime
    actor_type: str
    actor_id: uuid.UUID | None
    action: str
    target_type: str | None
    target_id: str | None
    request_id: str | None
    client_address: str | None
    changes: list[str] = Field(description="Names of the fields changed (never their values)")


# --- the business profile, branches, integrations ------------------------------------------


class Address(Schema):
    line1: Text200 | None = None
    line2: Text200 | None = None
    city: Text100 | None = None
    region: Text100 | None = None
    postal_code: Text20 | None = None
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] | None = None


class TenantProfile(Schema):
    id: uuid.UUID
    name: str
    slug: str
    country: str
    currency: str
    timezone: str
    legal_name: str | None
    tax_id: str | None
    address: dict[str, Any] | None
    enabled_modules: list[str]
    status: str
    version: int


class TenantProfileUpdate(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "legal_name": "Ada Stores Limited",
                    "tax_id": "12345678-0001",
                    "address": {"line1": "1 Marina", "city": "Lagos", "country": "NG"},
                    "version": 1,
                }
            ]
        }
    )

    name: Name | None = None
    legal_name: Text300 | None = None
    tax_id: Text64 | None = None
    address: Address | None = None
    timezone: Annotated[str, StringConstraints(max_length=64)] | None = None
    version: int | None = Field(default=None, description="Or send it as If-Match")


BranchCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")]
Phone = Text32


class Branch(Schema):
    id: uuid.UUID
    name: str
    code: str
    address: dict[str, Any] | None
    phone: str | None
    is_headquarters: bool
    created_at: dt.datetime
    version: int


class BranchCreate(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Ikeja shop",
                    "code": "IKJ",
                    "address": {"line1": "12 Allen Avenue", "city": "Lagos", "country": "NG"},
                    "phone": "+2348012345678",
                }
            ]
        }
    )

    name: Name
    code: BranchCode
    address: Address | None = None
    phone: Phone | None = None
    is_headquarters: bool = False


class BranchUpdate(Schema):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "Ikeja flagship", "version": 1}]}
    )

    name: Name | None = None
    code: BranchCode | None = None
    address: Address | None = None
    phone: Phone | None = None
    is_headquarters: bool | None = None
    version: int | None = Field(default=None, description="Or send it as If-Match")


class Integration(Schema):
    """A configured integration; secrets are never shown, only their names."""

    provider: str
    category: str
    options: dict[str, Any]
    secret_names: list[str]
    is_enabled: bool
