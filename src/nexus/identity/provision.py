"""What activation does for identity: the business's own roles and its locations.

`provision(session, ctx, section)` runs inside the activation's transaction, as the new
business's owner, after the tenant and owner exist. `section` is the identity section of the
resolved spec, plain data: `{"roles": [{key, name, description, permissions}],
"branches": [{name, code, address, phone, is_headquarters}]}`. A role whose key is a built-in
role's (owner, admin, manager, staff, viewer) keeps the built-in role.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from nexus.core.context import RequestContext
from nexus.identity.permissions import BUILTIN_ROLES
from nexus.identity.schemas import team as schemas
from nexus.identity.service import roles, tenant_profile


async def provision(
    session: AsyncSession, ctx: RequestContext, section: dict[str, Any]
) -> dict[str, int]:
    created_roles = 0
    for role in section.get("roles", []):
        if role["key"] in BUILTIN_ROLES:
            continue
        await roles.create_role(session, ctx, schemas.RoleCreate.model_validate(role))
        created_roles += 1
    codes: set[str] = set()
    for branch in section.get("branches", []):
        values = dict(branch)
        values["code"] = values.get("code") or branch_code(values["name"], codes)
        codes.add(values["code"].upper())
        await tenant_profile.create_branch(
            session, ctx, schemas.BranchCreate.model_validate(values)
        )
    return {"roles": created_roles, "branches": len(section.get("branches", []))}


def branch_code(name: str, taken: set[str]) -> str:
    """A short code from a branch's name (`Ikeja shop` → `IKEJA`), unique in the business."""
    base = re.sub(r"[^A-Za-z0-9]", "", name).upper()[:8] or "BRANCH"
    code, number = base, 1
    while code in taken:
        number += 1
        code = f"{base[:6]}{number}"
    return code
