"""Roles of a business (built-in and custom) and the catalog of permissions they grant.

Roles are a tenant table: every function here needs the tenant bound to the session.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from nexus.core.audit import record
from nexus.core.concurrency import check_version, expected_version
from nexus.core.context import RequestContext, permission_matches
from nexus.core.errors import invalid
from nexus.core.pagination import paginate
from nexus.core.registry import registry
from nexus.identity.errors import BuiltinRoleReadOnly, RoleInUse, RoleKeyTaken, RoleNotFound
from nexus.identity.models import Membership, Role
from nexus.identity.schemas import team as schemas
from nexus.identity.service.team import tenant_of


def check_permissions(ctx: RequestContext, permissions: Sequence[str]) -> list[str]:
    """Known permission names or `module.*` patterns matching one, each held by the caller
    (nobody hands out more than they have). Errors name the index: `body.permissions.2`."""
    known = registry.permission_names()
    for index, name in enumerate(permissions):
        field = f"body.permissions.{index}"
        if name.endswith(".*") and name != ".*":
            if not any(permission_matches(name, permission) for permission in known):
                raise invalid(field, f"{name!r} matches no permission", "unknown_permission")
        elif name not in known:
            raise invalid(field, f"Unknown permission {name!r}", "unknown_permission")
        if not ctx.can(name):
            raise invalid(field, f"You do not hold {name!r} yourself", "not_held")
    return sorted(set(permissions))


async def _member_counts(
    session: AsyncSession, ctx: RequestContext, role_ids: list[uuid.UUID]
) -> dict[uuid.UUID, int]:
    rows = await session.execute(
        select(Membership.role_id, func.count())
        .where(Membership.tenant_id == tenant_of(ctx), Membership.role_id.in_(role_ids))
        .group_by(Membership.role_id)
    )
    return {role_id: int(count) for role_id, count in rows}


def _view(role: Role, member_count: int) -> schemas.Role:
    return schemas.Role(
        id=role.id,
        key=role.key,
        name=role.name,
        description=role.description,
        permissions=list(role.permissions),
        is_builtin=role.is_builtin,
        member_count=member_count,
        version=role.version,
        created_at=role.created_at,
    )


async def _role(session: AsyncSession, role_id: uuid.UUID) -> Role:
    role = await session.scalar(select(Role).where(Role.id == role_id))
    if role is None:
        raise RoleNotFound()
    return role


async def _described(session: AsyncSession, ctx: RequestContext, role: Role) -> schemas.Role:
    counts = await _member_counts(session, ctx, [role.id])
    return _view(role, counts.get(role.id, 0))


async def list_roles(
    session: AsyncSession, ctx: RequestContext, *, limit: int = 50, cursor: str | None = None
) -> schemas.Page[schemas.Role]:
    """Roles oldest first (the built-in ones lead), with how many members hold each."""
    page = await paginate(
        session, select(Role), sort=Role.created_at, id_column=Role.id, limit=limit, cursor=cursor
    )
    counts = await _member_counts(session, ctx, [role.id for role in page.items])
    items = [_view(role, counts.get(role.id, 0)) for role in page.items]
    return schemas.Page(items=items, next_cursor=page.next_cursor)


async def get_role(session: AsyncSession, ctx: RequestContext, role_id: uuid.UUID) -> schemas.Role:
    return await _described(session, ctx, await _role(session, role_id))


async def create_role(
    session: AsyncSession, ctx: RequestContext, data: schemas.RoleCreate
) -> schemas.Role:
    permissions = check_permissions(ctx, data.permissions)
    if await session.scalar(select(Role.id).where(Role.key == data.key)):
        raise RoleKeyTaken(detail=f"The key {data.key!r} is taken")
    role = Role(
        key=data.key,
        name=data.name,
        description=data.description,
        permissions=permissions,
        is_builtin=False,
    )
    session.add(role)
    await session.flush()
    record(
        session,
        ctx,
        "identity.role.created",
        target_type="role",
        target_id=role.id,
        changes=["key", "name", "description", "permissions"],
    )
    return _view(role, 0)


async def update_role(
    session: AsyncSession,
    ctx: RequestContext,
    role_id: uuid.UUID,
    data: schemas.RoleUpdate,
    *,
    if_match: str | None = None,
) -> schemas.Role:
    """Change a custom role's name, description or permissions (built-in roles are fixed)."""
    role = await _role(session, role_id)
    if role.is_builtin:
        raise BuiltinRoleReadOnly(detail=f"The built-in role {role.key!r} cannot be changed")
    check_version(role.version, expected_version(data.version, if_match))
    wanted = {
        "name": data.name,
        "description": data.description,
        "permissions": None
        if data.permissions is None
        else check_permissions(ctx, data.permissions),
    }
    changed = []
    for field, value in wanted.items():
        if value is not None and value != getattr(role, field):
            setattr(role, field, value)
            changed.append(field)
    if changed:
        await session.flush()
        record(
            session,
            ctx,
            "identity.role.updated",
            target_type="role",
            target_id=role.id,
            changes=changed,
        )
    return await _described(session, ctx, role)


async def delete_role(session: AsyncSession, ctx: RequestContext, role_id: uuid.UUID) -> None:
    """Delete a custom role no membership refers to (of any status)."""
    role = await _role(session, role_id)
    if role.is_builtin:
        raise BuiltinRoleReadOnly(detail=f"The built-in role {role.key!r} cannot be deleted")
    holders = (await _member_counts(session, ctx, [role.id])).get(role.id, 0)
    if holders:
        raise RoleInUse(
            detail=f"{holders} member(s) have this role; give them another role first",
            extra={"member_count": holders},
        )
    await session.delete(role)
    await session.flush()
    record(session, ctx, "identity.role.deleted", target_type="role", target_id=role_id)


def permission_catalog(ctx: RequestContext) -> schemas.PermissionCatalog:
    """Every permission of every module, grouped by module, saying which modules are on."""
    groups = [
        schemas.PermissionGroup(
            module=module.name,
            title=module.title,
            is_enabled=module.name in ctx.enabled_modules,
            permissions=[
                schemas.PermissionInfo(name=p.name, description=p.description)
                for p in module.permissions
            ],
        )
        for module in registry.modules.values()
        if module.permissions
    ]
    return schemas.PermissionCatalog(items=groups)
