"""Identity endpoints: auth."""

from __future__ import annotations

from fastapi import APIRouter

from nexus.core.http import NexusRoute

router = APIRouter(route_class=NexusRoute)
