"""API shapes of the operators' view of the platform."""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import ConfigDict

from nexus.identity.schemas import Schema
from nexus.identity.schemas.team import Required500


class PlatformTenant(Schema):
    """A business as operators see it in a list."""

    id: uuid.UUID
    slug: str
    name: str
    country: str
    currency: str
    status: str
    member_count: int
    created_at: dt.datetime


class PlatformTenantDetail(PlatformTenant):
    timezone: str
    legal_name: str | None
    enabled_modules: list[str]
    suspended_at: dt.datetime | None
    suspended_reason: str | None
    version: int


class TenantSuspension(Schema):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason": "Unpaid invoices since September"}]}
    )

    reason: Required500
