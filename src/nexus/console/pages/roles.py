"""The roles pages: the business's roles with how many members hold each, and custom roles
made, changed and deleted with the permissions of every module as grouped checkboxes.

Every action calls the `roles` service with the schemas of `/api/v1/identity/roles`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from nexus.console.pages.common import Session, new_router, parse, require
from nexus.console.shell import Form, flash, form_with_error, gettext, read_form, redirect, render
from nexus.core.context import RequestContext, permission_matches
from nexus.core.errors import NexusError, NotFound, PreconditionFailed
from nexus.core.registry import registry
from nexus.identity.schemas.team import RoleCreate, RoleUpdate
from nexus.identity.service import roles

router = new_router()

Reader = Annotated[RequestContext, require("identity.role.read")]
Manager = Annotated[RequestContext, require("identity.role.manage")]
PAGE_SIZE = 50


# --- permissions as grouped checkboxes (the API keys pages use them too) --------------------


@dataclass(frozen=True)
class PermissionChoice:
    name: str
    description: str
    is_checked: bool
    is_held: bool


@dataclass(frozen=True)
class PermissionGroup:
    """One module's permissions; `whole` is its `module.*` pattern (every permission of the
    module, including ones it adds later)."""

    title: str
    whole: str
    is_whole_checked: bool
    is_enabled: bool
    permissions: list[PermissionChoice]


def permission_groups(
    request: Request, ctx: RequestContext, chosen: Sequence[str]
) -> list[PermissionGroup]:
    """Every module's permissions, in registry order, ticked where `chosen` grants them.
    Titles and descriptions are translated here, as plain text the template escapes."""
    groups = []
    for module in registry.modules.values():
        if not module.permissions:
            continue
        whole = f"{module.name}.*"
        choices = [
            PermissionChoice(
                name=p.name,
                description=gettext(request, p.description),
                is_checked=any(permission_matches(granted, p.name) for granted in chosen),
                is_held=ctx.can(p.name),
            )
            for p in module.permissions
        ]
        groups.append(
            PermissionGroup(
                title=gettext(request, module.title),
                whole=whole,
                is_whole_checked=whole in chosen or "*" in chosen,
                is_enabled=module.name in ctx.enabled_modules,
                permissions=choices,
            )
        )
    return groups


def chosen_list(value: Any) -> list[str]:
    """Checkbox values as a list (one ticked box arrives as a string, none as nothing)."""
    if value is None or value == "":
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def collapse_list_errors(form: Form, name: str) -> Form:
    """`permissions.2` → `permissions`: the checkbox group shows one error."""
    for key in [k for k in form.errors if k.startswith(name + ".")]:
        form.errors.setdefault(name, form.errors.pop(key))
    return form


# --- the list ------------------------------------------------------------------------------


@router.get("/roles")
async def role_list(
    request: Request, session: Session, ctx: Reader, cursor: str | None = None
) -> Response:
    page = await roles.list_roles(session, ctx, limit=PAGE_SIZE, cursor=cursor or None)
    return await render(request, "identity/roles.html", {"page": page})


# --- a new role ----------------------------------------------------------------------------


def _role_values(values: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": values.get("name", ""),
        "description": values.get("description", ""),
        "permissions": chosen_list(values.get("permissions")),
    }


async def _new_role_page(
    request: Request, ctx: RequestContext, form: Form, *, status: int = 200
) -> Response:
    chosen = chosen_list(form.value("permissions", []))
    groups = permission_groups(request, ctx, chosen)
    context = {"form": form, "groups": groups, "role": None, "is_editable": True}
    return await render(request, "identity/role_form.html", context, status=status)


@router.get("/roles/new")
async def new_role(request: Request, ctx: Manager) -> Response:
    return await _new_role_page(request, ctx, Form.empty())


@router.post("/roles/new")
async def create_role(request: Request, session: Session, ctx: Manager) -> Response:
    values = await read_form(request)
    try:
        body = parse(RoleCreate, {"key": values.get("key", ""), **_role_values(values)})
        role = await roles.create_role(session, ctx, body)
    except NexusError as error:
        form = collapse_list_errors(form_with_error(values, error), "permissions")
        return await _new_role_page(request, ctx, form, status=error.status)
    message = gettext(request, "The role %(name)s is created.", name=role.name)
    return flash(redirect(request, f"/roles/{role.id}"), message)


# --- one role ------------------------------------------------------------------------------


async def _role_page(
    request: Request,
    session: AsyncSession,
    ctx: RequestContext,
    role_id: uuid.UUID,
    form: Form | None = None,
    *,
    status: int = 200,
    message: str | None = None,
) -> Response:
    """The role as it is now, or as submitted (`form`); `message` goes above the form."""
    role = await roles.get_role(session, ctx, role_id)
    if form is None:
        form = Form.empty(
            name=role.name, description=role.description, permissions=role.permissions
        )
    form.message = message or form.message
    chosen = chosen_list(form.value("permissions", []))
    context = {
        "form": form,
        "role": role,
        "groups": permission_groups(request, ctx, chosen),
        "is_editable": not role.is_builtin and ctx.can("identity.role.manage"),
    }
    return await render(request, "identity/role_form.html", context, status=status)


@router.get("/roles/{role_id}")
async def get_role(request: Request, session: Session, ctx: Reader, role_id: uuid.UUID) -> Response:
    return await _role_page(request, session, ctx, role_id)


@router.post("/roles/{role_id}")
async def update_role(
    request: Request, session: Session, ctx: Manager, role_id: uuid.UUID
) -> Response:
    values = await read_form(request)
    try:
        body = parse(RoleUpdate, {"version": values.get("version") or None, **_role_values(values)})
        role = await roles.update_role(session, ctx, role_id, body)
    except NotFound:
        raise
    except NexusError as error:
        form = collapse_list_errors(form_with_error(values, error), "permissions")
        if isinstance(error, PreconditionFailed):
            message = gettext(
                request,
                "Someone else changed this role while you were editing it. The page now "
                "shows their version: make your change again.",
            )
            return await _role_page(request, session, ctx, role_id, status=412, message=message)
        return await _role_page(request, session, ctx, role_id, form, status=error.status)
    message = gettext(request, "The role %(name)s is saved.", name=role.name)
    return flash(redirect(request, f"/roles/{role.id}"), message)


@router.post("/roles/{role_id}/delete")
async def delete_role(
    request: Request, session: Session, ctx: Manager, role_id: uuid.UUID
) -> Response:
    try:
        role = await roles.get_role(session, ctx, role_id)
        await roles.delete_role(session, ctx, role_id)
    except NotFound:
        raise
    except NexusError as error:
        message = error.detail or error.title
        return await _role_page(
            request, session, ctx, role_id, status=error.status, message=message
        )
    message = gettext(request, "The role %(name)s is deleted.", name=role.name)
    return flash(redirect(request, "/roles"), message)
