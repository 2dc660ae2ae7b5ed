from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import func, select

from nexus.core.audit import AuditEvent
from nexus.core.db import Database, bind_tenant
from nexus.identity.models import Role
from nexus.identity.permissions import PERMISSIONS
from tests.identity.factories import TenantFixture, add_member, make_tenant, unique

ROLES = "/api/v1/identity/roles"
BUILTIN = ["owner", "admin", "manager", "staff", "viewer"]


def role_key() -> str:
    return unique("role").replace("-", "_")


async def create_role(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    *,
    permissions: list[str] | None = None,
    key: str | None = None,
) -> dict[str, Any]:
    response = await client.post(
        ROLES,
        json={
            "key": key or role_key(),
            "name": "Cashier",
            "description": "Takes payments",
            "permissions": permissions or ["identity.tenant.read"],
        },
        headers=tenant.headers,
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def role_count(database: Database, tenant: TenantFixture) -> int:
    async with database.transaction(tenant.tenant_id) as session:
        await bind_tenant(session, tenant.tenant_id)
        return int(await session.scalar(select(func.count(Role.id))) or 0)


async def audit_count(database: Database, tenant: TenantFixture, prefix: str) -> int:
    async with database.transaction() as session:
        return int(
            await session.scalar(
                select(func.count()).where(
                    AuditEvent.tenant_id == tenant.tenant_id, AuditEvent.action.startswith(prefix)
                )
            )
            or 0
        )


# --- listing and reading -------------------------------------------------------------------


async def test_list_shows_builtin_roles_with_member_counts(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    await add_member(database, tenant, role="staff")
    await add_member(database, tenant, role="staff")
    custom = await create_role(client, tenant)

    response = await client.get(ROLES, headers=tenant.headers)

    assert response.status_code == 200
    items = response.json()["items"]
    assert [r["key"] for r in items] == [*BUILTIN, custom["key"]]
    assert [r["member_count"] for r in items] == [1, 0, 0, 2, 0, 0]
    assert [r["is_builtin"] for r in items] == [True] * 5 + [False]
    assert items[0]["permissions"] == ["*"]
    assert items[3]["permissions"] == ["identity.user.read", "identity.tenant.read"]
    assert response.json()["next_cursor"] is None


async def test_list_pages(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await make_tenant(database)
    keys = []
    cursor = None
    for _ in range(3):
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get(ROLES, params=params, headers=tenant.headers)).json()
        keys.append([r["key"] for r in page["items"]])
        cursor = page["next_cursor"]

    assert keys == [["owner", "admin"], ["manager", "staff"], ["viewer"]]
    assert cursor is None


async def test_four_callers_on_get_role(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await make_tenant(database)
    other = await make_tenant(database)
    role = await create_role(client, tenant)
    without = await add_member(database, tenant, permissions=["identity.user.read"])
    holder = await add_member(database, tenant, permissions=["identity.role.read"])
    path = f"{ROLES}/{role['id']}"

    anonymous = await client.get(path)
    refused = await client.get(path, headers=without.headers)
    allowed = await client.get(path, headers=holder.headers)
    foreign = await client.get(path, headers=other.headers)

    assert anonymous.status_code == 401
    assert refused.status_code == 403
    assert allowed.status_code == 200
    assert allowed.json() == role
    assert foreign.status_code == 404
    assert foreign.json()["code"] == "role_not_found"


async def test_get_unknown_role_is_404(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await make_tenant(database)

    response = await client.get(f"{ROLES}/{uuid.uuid4()}", headers=tenant.headers)

    assert response.status_code == 404
    assert response.json()["code"] == "role_not_found"


# --- creating ------------------------------------------------------------------------------


async def test_create_custom_role(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await make_tenant(database)
    key = role_key()

    response = await client.post(
        ROLES,
        json={
            "key": key,
            "name": "Cashier",
            "permissions": ["identity.user.read", "identity.*", "identity.user.read"],
        },
        headers=tenant.headers,
    )

    assert response.status_code == 201
    body = response.json()
    assert (body["key"], body["name"], body["description"]) == (key, "Cashier", "")
    assert body["permissions"] == ["identity.*", "identity.user.read"]
    assert (body["is_builtin"], body["member_count"], body["version"]) == (False, 0, 1)
    assert await audit_count(database, tenant, "identity.role.created") == 1


async def test_a_member_holds_the_custom_roles_permissions(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    role = await create_role(client, tenant, permissions=["identity.audit.read"])
    member = await add_member(database, tenant)
    await client.patch(
        f"/api/v1/identity/users/{member.user_id}",
        json={"role": role["key"], "version": 1},
        headers=tenant.headers,
    )

    me = await client.get("/api/v1/me", headers=member.headers)
    audit = await client.get("/api/v1/identity/audit-events", headers=member.headers)
    listed = await client.get(f"{ROLES}/{role['id']}", headers=tenant.headers)

    assert me.json()["permissions"] == ["identity.audit.read"]
    assert audit.status_code == 200
    assert listed.json()["member_count"] == 1


async def test_create_with_a_taken_key_is_409(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    before = await role_count(database, tenant)

    response = await client.post(
        ROLES,
        json={"key": "staff", "name": "Another staff", "permissions": ["identity.user.read"]},
        headers=tenant.headers,
    )

    assert response.status_code == 409
    assert response.json()["code"] == "role_key_taken"
    assert await role_count(database, tenant) == before


async def test_unknown_permissions_are_named_by_index(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    cases = {
        "identity.user.fly": "unknown_permission",
        "nothing.*": "unknown_permission",
        "*": "unknown_permission",
    }
    results = {}
    for wrong in cases:
        response = await client.post(
            ROLES,
            json={
                "key": role_key(),
                "name": "Bad",
                "permissions": ["identity.user.read", "identity.role.read", wrong],
            },
            headers=tenant.headers,
        )
        results[wrong] = (response.status_code, response.json()["errors"][0])

    for wrong, code in cases.items():
        status, error = results[wrong]
        assert status == 422
        assert (error["field"], error["code"]) == ("body.permissions.2", code)
    assert await role_count(database, tenant) == 5


async def test_nobody_grants_a_permission_they_lack(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    manager = await add_member(
        database, tenant, permissions=["identity.role.manage", "identity.role.read"]
    )

    response = await client.post(
        ROLES,
        json={
            "key": role_key(),
            "name": "Escalation",
            "permissions": ["identity.role.read", "identity.user.invite"],
        },
        headers=manager.headers,
    )

    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "field": "body.permissions.1",
            "reason": "You do not hold 'identity.user.invite' yourself",
            "code": "not_held",
        }
    ]
    assert await role_count(database, tenant) == 6  # five built-in and the manager's own


async def test_create_validates_key_and_name(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await make_tenant(database)

    response = await client.post(
        ROLES,
        json={"key": "Bad Key", "name": "", "permissions": []},
        headers=tenant.headers,
    )

    assert response.status_code == 422
    assert sorted(e["field"] for e in response.json()["errors"]) == ["body.key", "body.name"]


async def test_create_needs_manage_permission(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    manager = await add_member(database, tenant, role="manager")

    response = await client.post(
        ROLES,
        json={"key": role_key(), "name": "X", "permissions": ["identity.user.read"]},
        headers=manager.headers,
    )

    assert response.status_code == 403
    assert await role_count(database, tenant) == 5


# --- changing and deleting -----------------------------------------------------------------


async def test_update_custom_role(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await make_tenant(database)
    role = await create_role(client, tenant)

    response = await client.patch(
        f"{ROLES}/{role['id']}",
        json={"name": "Head cashier", "permissions": ["identity.user.read"], "version": 1},
        headers=tenant.headers,
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["permissions"], body["version"]) == (
        "Head cashier",
        ["identity.user.read"],
        2,
    )
    assert body["description"] == "Takes payments"
    async with database.transaction() as session:
        changes = await session.scalar(
            select(AuditEvent.changes).where(
                AuditEvent.tenant_id == tenant.tenant_id,
                AuditEvent.action == "identity.role.updated",
            )
        )
    assert changes == ["name", "permissions"]


async def test_update_refuses_stale_or_missing_version(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    role = await create_role(client, tenant)
    path = f"{ROLES}/{role['id']}"

    missing = await client.patch(path, json={"name": "X"}, headers=tenant.headers)
    stale = await client.patch(
        path, json={"name": "X"}, headers={**tenant.headers, "If-Match": "9"}
    )
    bad_permission = await client.patch(
        path, json={"permissions": ["nope.read"], "version": 1}, headers=tenant.headers
    )

    assert (missing.status_code, missing.json()["code"]) == (428, "version_required")
    assert (stale.status_code, stale.json()["code"]) == (412, "version_mismatch")
    assert bad_permission.status_code == 422
    assert bad_permission.json()["errors"][0]["field"] == "body.permissions.0"
    assert (await client.get(path, headers=tenant.headers)).json() == role


async def test_builtin_roles_are_read_only(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await make_tenant(database)
    roles = (await client.get(ROLES, headers=tenant.headers)).json()["items"]
    staff = next(r for r in roles if r["key"] == "staff")
    path = f"{ROLES}/{staff['id']}"

    patched = await client.patch(
        path, json={"permissions": ["identity.*"], "version": 1}, headers=tenant.headers
    )
    deleted = await client.delete(path, headers=tenant.headers)

    assert (patched.status_code, patched.json()["code"]) == (409, "builtin_role_read_only")
    assert (deleted.status_code, deleted.json()["code"]) == (409, "builtin_role_read_only")
    assert (await client.get(path, headers=tenant.headers)).json() == staff


async def test_delete_custom_role(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await make_tenant(database)
    role = await create_role(client, tenant)

    response = await client.delete(f"{ROLES}/{role['id']}", headers=tenant.headers)

    assert response.status_code == 204
    assert response.content == b""
    gone = await client.get(f"{ROLES}/{role['id']}", headers=tenant.headers)
    assert gone.status_code == 404
    assert await audit_count(database, tenant, "identity.role.deleted") == 1


async def test_delete_a_role_in_use_is_409(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await make_tenant(database)
    holder = await add_member(database, tenant, permissions=["identity.user.read"])
    me = (await client.get("/api/v1/me", headers=holder.headers)).json()
    roles = (await client.get(ROLES, headers=tenant.headers)).json()["items"]
    role = next(r for r in roles if r["key"] == me["role"])

    response = await client.delete(f"{ROLES}/{role['id']}", headers=tenant.headers)

    assert response.status_code == 409
    assert response.json()["code"] == "role_in_use"
    assert response.json()["member_count"] == 1
    assert (await client.get(f"{ROLES}/{role['id']}", headers=tenant.headers)).status_code == 200


async def test_delete_in_another_tenant_is_404(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    other = await make_tenant(database)
    role = await create_role(client, tenant)

    response = await client.delete(f"{ROLES}/{role['id']}", headers=other.headers)

    assert response.status_code == 404
    assert (await client.get(f"{ROLES}/{role['id']}", headers=tenant.headers)).status_code == 200


# --- the permission catalog ----------------------------------------------------------------


async def test_permission_catalog_groups_by_module(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    staff = await add_member(database, tenant)

    response = await client.get("/api/v1/identity/permissions", headers=tenant.headers)
    refused = await client.get("/api/v1/identity/permissions", headers=staff.headers)
    anonymous = await client.get("/api/v1/identity/permissions")

    assert response.status_code == 200
    identity = next(g for g in response.json()["items"] if g["module"] == "identity")
    assert identity["title"] == "Team & access"
    assert identity["is_enabled"] is True
    assert identity["permissions"] == [
        {"name": p.name, "description": p.description} for p in PERMISSIONS
    ]
    assert refused.status_code == 403
    assert anonymous.status_code == 401
