"""`GET /api/v1/me`: who am I, in which business, allowed to do what."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from nexus.core.context import RequestContext
from nexus.core.http import NexusRoute, Session, authenticated
from nexus.identity.schemas import Me
from nexus.identity.service import profile

router = APIRouter(route_class=NexusRoute, tags=["auth"])
Caller = Annotated[RequestContext, authenticated()]


@router.get("/api/v1/me", response_model=Me, summary="The caller and its permissions")
async def get(session: Session, ctx: Caller) -> Me:
    return await profile.describe_caller(session, ctx)
