"""The CRM's API: one router per area, under `/api/v1/crm`."""

from __future__ import annotations

from fastapi import APIRouter

from nexus.crm.endpoints import (
    activities,
    activity_types,
    companies,
    consent,
    contacts,
    deals,
    exports,
    fields,
    imports,
    leads,
    pipelines,
)

router = APIRouter()
for area in (
    fields,
    imports,
    exports,
    contacts,
    companies,
    leads,
    pipelines,
    deals,
    activities,
    activity_types,
    consent,
):
    router.include_router(area.router)
