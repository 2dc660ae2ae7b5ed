"""`/api/v1/crm/...`: companies (being built)."""

from __future__ import annotations

from fastapi import APIRouter

from nexus.core.http import NexusRoute

router = APIRouter(route_class=NexusRoute, prefix="/api/v1/crm", tags=["crm"])
