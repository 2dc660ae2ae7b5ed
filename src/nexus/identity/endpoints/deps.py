"""Identity's side of the HTTP edge: turning a request's credential into its caller."""

from __future__ import annotations

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from nexus.core.context import RequestContext
from nexus.core.http import client_address
from nexus.identity.service.credentials import resolve_caller


async def request_caller(request: Request, session: AsyncSession) -> RequestContext | None:
    return await resolve_caller(
        session,
        request.headers.get("authorization"),
        request_id=getattr(request.state, "request_id", None),
        client_address=client_address(request),
    )
