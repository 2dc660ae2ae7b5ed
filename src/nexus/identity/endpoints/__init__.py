"""Identity's JSON API: `/api/v1/auth`, `/api/v1/me`, `/api/v1/identity/…`, `/api/v1/platform/…`."""

from __future__ import annotations

from fastapi import APIRouter

from nexus.core.http import NexusRoute
from nexus.identity.endpoints import api_keys, audit, auth, me, platform, roles, tenant, users

router = APIRouter(route_class=NexusRoute)
for part in (auth, me, users, roles, api_keys, audit, tenant, platform):
    router.include_router(part.router)
