"""Identity's JSON API: `/api/v1/auth`, `/api/v1/me`, `/api/v1/identity/…`, `/api/v1/platform/…`."""

from __future__ import annotations

from fastapi import APIRouter

from nexus.core.http import NexusRoute
from nexus.identity.endpoints import me

router = APIRouter(route_class=NexusRoute)
router.include_router(me.router)
