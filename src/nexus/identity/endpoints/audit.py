"""`/api/v1/identity/audit-events`: who did what in the business, newest first."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from nexus.core.context import RequestContext
from nexus.core.http import NexusRoute, Session, require
from nexus.identity.schemas.team import AuditEvent, Page, SearchText, UTCTime
from nexus.identity.service import team

router = APIRouter(route_class=NexusRoute, prefix="/api/v1/identity", tags=["team"])

Reader = Annotated[RequestContext, require("identity.audit.read")]


@router.get(
    "/audit-events", response_model=Page[AuditEvent], summary="Read the audit log, newest first"
)
async def list(
    session: Session,
    ctx: Reader,
    actor_id: uuid.UUID | None = None,
    action: Annotated[
        SearchText | None,
        Query(description="Exact, or a prefix ending in `*` (`identity.user.*`)"),
    ] = None,
    since: Annotated[UTCTime | None, Query(description="From this time (inclusive)")] = None,
    until: Annotated[UTCTime | None, Query(description="Before this time")] = None,
    limit: Annotated[int, Query(ge=1, le=200, description="Items per page")] = 50,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page")] = None,
) -> Page[AuditEvent]:
    return await team.list_audit_events(
        session,
        ctx,
        actor_id=actor_id,
        action=action,
        since=since,
        until=until,
        limit=limit,
        cursor=cursor,
    )
