"""The business's home page: its modules, its team, what happened lately."""

from __future__ import annotations

from fastapi import Request, Response

from nexus.console.pages.common import Caller, Session, new_router
from nexus.console.shell import redirect, render
from nexus.core.registry import registry
from nexus.identity.service import team

router = new_router()


@router.get("/")
async def home(request: Request, session: Session, ctx: Caller) -> Response:
    if ctx.tenant_id is None:
        # An operator signed in outside any business lands on the platform pages.
        return redirect(request, "/platform/tenants")
    counts = await team.count_members(session, ctx) if ctx.can("identity.user.read") else None
    events = (
        (await team.list_audit_events(session, ctx, limit=10)).items
        if ctx.can("identity.audit.read")
        else None
    )
    modules = [
        registry.modules[name]
        for name in sorted(ctx.enabled_modules)
        if name in registry.modules and name != "core"
    ]
    return await render(
        request,
        "identity/home.html",
        {"modules": modules, "counts": counts, "events": events},
    )
