"""The platform operators' pages: the businesses on this NEXUS, one business, its suspension.

Operators sign in like anyone; one who belongs to no business gets a session without a
tenant, and `/` sends them here. The handlers call the services of the platform API
(`nexus.identity.endpoints.platform`) with its schemas, behind the same `require_operator()`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Request, Response
from pydantic import TypeAdapter, ValidationError

from nexus.console.pages.common import Session, new_router, parse, require_operator
from nexus.console.shell import (
    Form,
    flash,
    form_with_error,
    gettext,
    new_uuid,
    read_form,
    redirect,
    render,
)
from nexus.core.context import RequestContext
from nexus.core.errors import Conflict, NexusError, invalid
from nexus.core.registry import registry
from nexus.identity.errors import TenantNotFound
from nexus.identity.schemas.platform import PlatformTenantDetail, TenantSuspension
from nexus.identity.schemas.team import SearchText
from nexus.identity.service import operators

router = new_router()

Operator = Annotated[RequestContext, require_operator()]
STATUSES = ("active", "suspended")
PAGE_SIZE = 50
_search_text: TypeAdapter[str] = TypeAdapter(SearchText)


def _search(request: Request, q: str | None) -> str | None:
    """The search text, as the API accepts it (at most 200 characters, no NUL)."""
    if not q or not q.strip():
        return None
    try:
        return _search_text.validate_python(q.strip())
    except ValidationError:
        message = gettext(request, "Search for at most 200 letters and digits.")
        raise invalid("query.q", message) from None


@router.get("/platform/tenants")
async def list_tenants(
    request: Request,
    session: Session,
    ctx: Operator,
    q: str | None = None,
    status: str | None = None,
    cursor: str | None = None,
) -> Response:
    chosen = status if status in STATUSES else None
    page = await operators.list_tenant_summaries(
        session, search=_search(request, q), status=chosen, limit=PAGE_SIZE, cursor=cursor or None
    )
    context = {"page": page, "q": q or "", "status": chosen or ""}
    return await render(request, "platform/tenants.html", context)


async def _describe(session: Any, tenant_id: str) -> PlatformTenantDetail:
    found = new_uuid(tenant_id)
    if found is None:
        raise TenantNotFound()
    return await operators.describe_tenant(session, found)


async def _tenant_page(
    request: Request, business: PlatformTenantDetail, form: Form | None = None, status: int = 200
) -> Response:
    modules = [
        (name, registry.modules[name].title if name in registry.modules else name)
        for name in business.enabled_modules
    ]
    context = {"business": business, "modules": modules, "form": form or Form.empty()}
    return await render(request, "platform/tenant.html", context, status=status)


@router.get("/platform/tenants/{tenant_id}")
async def get_tenant(request: Request, session: Session, ctx: Operator, tenant_id: str) -> Response:
    return await _tenant_page(request, await _describe(session, tenant_id))


@router.post("/platform/tenants/{tenant_id}/suspend")
async def suspend(request: Request, session: Session, ctx: Operator, tenant_id: str) -> Response:
    business = await _describe(session, tenant_id)
    values = await read_form(request)
    try:
        body = parse(TenantSuspension, {"reason": values.get("reason", "")})
        await operators.suspend_tenant(session, ctx, business.id, reason=body.reason)
    except Conflict:
        return _back(request, business, gettext(request, "This business is already suspended."))
    except NexusError as error:
        form = form_with_error(values, error)
        form.message = gettext(request, "Give the reason for the suspension.")
        return await _tenant_page(request, business, form, status=error.status)
    response = redirect(request, f"/platform/tenants/{business.id}")
    return flash(response, gettext(request, "%(name)s is suspended.", name=business.name))


@router.post("/platform/tenants/{tenant_id}/reactivate")
async def reactivate(request: Request, session: Session, ctx: Operator, tenant_id: str) -> Response:
    business = await _describe(session, tenant_id)
    try:
        await operators.reactivate_tenant(session, ctx, business.id)
    except Conflict:
        return _back(request, business, gettext(request, "This business is already active."))
    response = redirect(request, f"/platform/tenants/{business.id}")
    return flash(response, gettext(request, "%(name)s is active again.", name=business.name))


def _back(request: Request, business: PlatformTenantDetail, message: str) -> Response:
    """A stale action (another operator got there first): back to the page, with why."""
    return flash(redirect(request, f"/platform/tenants/{business.id}"), message, kind="error")
