"""Identity's API shapes."""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel, ConfigDict


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True, extra="forbid")


class MembershipSummary(Schema):
    tenant_id: uuid.UUID
    tenant_slug: str
    tenant_name: str
    role: str


class Me(Schema):
    """The caller: a user (with the tenant of this credential) or an API key."""

    actor_type: str
    user_id: uuid.UUID | None
    email: str | None
    name: str | None
    tenant_id: uuid.UUID | None
    tenant_slug: str | None
    role: str | None
    permissions: list[str]
    enabled_modules: list[str]
    platform_role: str | None
    mfa_enabled: bool
    email_verified_at: dt.datetime | None
    memberships: list[MembershipSummary]
