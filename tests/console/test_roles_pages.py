"""The roles pages: the list with member counts, custom roles made, changed and deleted."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx

from nexus.core.db import Database
from nexus.core.registry import registry
from tests.console.browser_client import Console
from tests.identity.factories import TenantFixture, add_member, make_tenant, unique

ROLES = "/api/v1/identity/roles"


def role_key() -> str:
    return unique("role").replace("-", "_")


async def api_roles(client: httpx.AsyncClient, tenant: TenantFixture) -> dict[str, Any]:
    response = await client.get(ROLES, headers=tenant.headers)
    return {role["key"]: role for role in response.json()["items"]}


async def api_create_role(
    client: httpx.AsyncClient, tenant: TenantFixture, permissions: list[str]
) -> dict[str, Any]:
    body = {"key": role_key(), "name": "Cashier", "permissions": permissions}
    response = await client.post(ROLES, json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def checked(html: str) -> list[str]:
    return re.findall(r'name="permissions" value="([^"]+)" checked', html)


# --- the list ------------------------------------------------------------------------------


async def test_the_list_shows_every_role_with_its_member_count(
    console: Console, database: Database
) -> None:
    tenant = await make_tenant(database)
    await add_member(database, tenant, role="staff")
    await add_member(database, tenant, role="staff")
    await console.sign_in(tenant.owner.email)

    response = await console.get("/roles")

    assert response.status_code == 200
    keys = re.findall(r'data-testid="role-key"><code>(\w+)<', response.text)
    counts = re.findall(r'data-testid="role-members">(\d+)<', response.text)
    assert dict(zip(keys, counts, strict=True)) == {
        "owner": "1",
        "admin": "0",
        "manager": "0",
        "staff": "2",
        "viewer": "0",
    }
    assert response.text.count(">Built-in<") == 5
    assert 'data-testid="new-role"' in response.text


# --- a new role ----------------------------------------------------------------------------


async def test_the_new_role_form_groups_permissions_by_module(
    console: Console, database: Database
) -> None:
    tenant = await make_tenant(database)
    await console.sign_in(tenant.owner.email)

    response = await console.get("/roles/new")

    assert response.status_code == 200
    with_permissions = [m for m in registry.modules.values() if m.permissions]
    assert response.text.count('data-testid="permission-group"') == len(with_permissions)
    assert "<strong>Team &amp; access</strong>" in response.text
    assert 'name="permissions" value="identity.*"' in response.text
    for permission in registry.modules["identity"].permissions:
        assert f'name="permissions" value="{permission.name}"' in response.text
    assert checked(response.text) == []


async def test_creating_a_role_saves_its_permissions(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    await console.sign_in(tenant.owner.email)
    await console.get("/roles/new")
    key = role_key()

    response = await console.post(
        "/roles/new",
        {
            "key": key,
            "name": "Cashier",
            "description": "Takes payments",
            "permissions": ["identity.user.read", "identity.audit.read"],
        },
    )

    assert response.status_code == 303
    role = (await api_roles(client, tenant))[key]
    assert response.headers["location"] == f"/roles/{role['id']}"
    assert (role["name"], role["description"], role["is_builtin"]) == (
        "Cashier",
        "Takes payments",
        False,
    )
    assert role["permissions"] == ["identity.audit.read", "identity.user.read"]
    page = await console.get(f"/roles/{role['id']}")
    assert "The role Cashier is created." in page.text
    assert checked(page.text) == ["identity.user.read", "identity.audit.read"]
    assert 'data-testid="role-form"' in page.text


async def test_a_member_with_the_new_role_holds_its_permissions(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    staff = await add_member(database, tenant, role="staff")
    await console.sign_in(tenant.owner.email)
    await console.get("/roles/new")
    key = role_key()
    await console.post(
        "/roles/new", {"key": key, "name": "Auditor", "permissions": "identity.audit.read"}
    )
    audit = "/api/v1/identity/audit-events"
    assert (await client.get(audit, headers=staff.headers)).status_code == 403

    await console.post(f"/team/{staff.user_id}", {"role": key, "version": "1"})

    assert (await client.get(audit, headers=staff.headers)).status_code == 200


async def test_invalid_fields_are_named_and_nothing_is_created(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    await console.sign_in(tenant.owner.email)
    await console.get("/roles/new")

    bad_key = await console.post(
        "/roles/new", {"key": "Not A Key", "name": "", "permissions": "identity.user.read"}
    )
    bad_permission = await console.post(
        "/roles/new",
        {"key": role_key(), "name": "X", "permissions": ["identity.user.read", "nope.nothing"]},
    )

    assert bad_key.status_code == 422
    assert 'data-testid="error-key"' in bad_key.text
    assert 'data-testid="error-name"' in bad_key.text
    assert checked(bad_key.text) == ["identity.user.read"]  # the ticks are kept
    assert bad_permission.status_code == 422
    assert 'data-testid="error-permissions"' in bad_permission.text
    assert "Unknown permission &#39;nope.nothing&#39;" in bad_permission.text
    assert sorted(await api_roles(client, tenant)) == [
        "admin",
        "manager",
        "owner",
        "staff",
        "viewer",
    ]


async def test_a_taken_key_is_a_form_message(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    await console.sign_in(tenant.owner.email)
    await console.get("/roles/new")

    response = await console.post(
        "/roles/new", {"key": "staff", "name": "Staff again", "permissions": "identity.user.read"}
    )

    assert response.status_code == 409
    assert "The key &#39;staff&#39; is taken" in response.text
    assert (await api_roles(client, tenant))["staff"]["name"] == "Staff"


# --- changing and deleting -----------------------------------------------------------------


async def test_changing_a_custom_role(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    role = await api_create_role(client, tenant, ["identity.user.read"])
    await console.sign_in(tenant.owner.email)
    page = await console.get(f"/roles/{role['id']}")
    assert 'name="version" value="1"' in page.text

    response = await console.post(
        f"/roles/{role['id']}",
        {
            "name": "Head cashier",
            "description": "",
            "permissions": ["identity.*"],
            "version": "1",
        },
    )

    assert response.status_code == 303
    after = (await api_roles(client, tenant))[role["key"]]
    assert (after["name"], after["permissions"], after["version"]) == (
        "Head cashier",
        ["identity.*"],
        2,
    )
    shown = await console.get(f"/roles/{role['id']}")
    assert len(checked(shown.text)) == 1 + len(registry.modules["identity"].permissions)


async def test_a_stale_version_shows_the_conflict_and_changes_nothing(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    role = await api_create_role(client, tenant, ["identity.user.read"])
    patched = await client.patch(
        f"{ROLES}/{role['id']}", json={"name": "Renamed", "version": 1}, headers=tenant.headers
    )
    assert patched.status_code == 200
    await console.sign_in(tenant.owner.email)
    await console.get(f"/roles/{role['id']}")

    response = await console.post(
        f"/roles/{role['id']}",
        {"name": "Mine", "permissions": "identity.audit.read", "version": "1"},
    )

    assert response.status_code == 412
    assert "Someone else changed this role while you were editing it." in response.text
    assert 'name="version" value="2"' in response.text
    assert 'value="Renamed"' in response.text
    after = (await api_roles(client, tenant))[role["key"]]
    assert (after["name"], after["permissions"]) == ("Renamed", ["identity.user.read"])


async def test_a_built_in_role_is_read_only(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    staff_role = (await api_roles(client, tenant))["staff"]
    await console.sign_in(tenant.owner.email)

    page = await console.get(f"/roles/{staff_role['id']}")
    refused = await console.post(
        f"/roles/{staff_role['id']}",
        {"name": "Anyone", "permissions": "identity.*", "version": "1"},
    )
    not_deleted = await console.post(f"/roles/{staff_role['id']}/delete")

    assert page.status_code == 200
    assert 'data-testid="builtin"' in page.text
    assert 'data-testid="role-form"' not in page.text
    assert 'data-testid="delete-role"' not in page.text
    assert re.findall(r'value="([^"]+)" checked disabled', page.text) == [
        "identity.user.read",
        "identity.tenant.read",
    ]
    assert refused.status_code == 409
    assert "The built-in role &#39;staff&#39; cannot be changed" in refused.text
    assert not_deleted.status_code == 409
    assert (await api_roles(client, tenant))["staff"] == staff_role


async def test_deleting_an_unused_custom_role(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    role = await api_create_role(client, tenant, ["identity.user.read"])
    await console.sign_in(tenant.owner.email)
    page = await console.get(f"/roles/{role['id']}")
    assert 'data-confirm="Delete the role Cashier? This cannot be undone."' in page.text

    response = await console.post(f"/roles/{role['id']}/delete")

    assert response.status_code == 303
    assert response.headers["location"] == "/roles"
    assert (await client.get(f"{ROLES}/{role['id']}", headers=tenant.headers)).status_code == 404
    assert "The role Cashier is deleted." in (await console.get("/roles")).text


async def test_a_role_in_use_is_not_deleted(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    role = await api_create_role(client, tenant, ["identity.user.read"])
    member = await add_member(database, tenant, role="staff")
    changed = await client.patch(
        f"/api/v1/identity/users/{member.user_id}",
        json={"role": role["key"], "version": 1},
        headers=tenant.headers,
    )
    assert changed.status_code == 200
    await console.sign_in(tenant.owner.email)
    await console.get(f"/roles/{role['id']}")

    response = await console.post(f"/roles/{role['id']}/delete")

    assert response.status_code == 409
    assert "1 member(s) have this role; give them another role first" in response.text
    assert (await client.get(f"{ROLES}/{role['id']}", headers=tenant.headers)).status_code == 200


# --- who may do what -----------------------------------------------------------------------


async def test_a_manager_reads_roles_but_cannot_manage_them(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    role = await api_create_role(client, tenant, ["identity.user.read"])
    manager = await add_member(database, tenant, role="manager")
    await console.sign_in(manager.email)

    listing = await console.get("/roles")
    page = await console.get(f"/roles/{role['id']}")
    new = await console.get("/roles/new")
    created = await console.post(
        "/roles/new", {"key": role_key(), "name": "X", "permissions": "identity.user.read"}
    )
    changed = await console.post(
        f"/roles/{role['id']}", {"name": "Mine", "permissions": "identity.*", "version": "1"}
    )
    deleted = await console.post(f"/roles/{role['id']}/delete")

    assert listing.status_code == 200
    assert 'data-testid="new-role"' not in listing.text
    assert page.status_code == 200
    assert 'data-testid="role-form"' not in page.text
    assert 'data-testid="delete-role"' not in page.text
    assert [new.status_code, created.status_code] == [403, 403]
    assert [changed.status_code, deleted.status_code] == [403, 403]
    assert len(await api_roles(client, tenant)) == 6
    assert (await api_roles(client, tenant))[role["key"]] == role


async def test_staff_may_not_open_roles(console: Console, database: Database) -> None:
    tenant = await make_tenant(database)
    staff = await add_member(database, tenant, role="staff")
    await console.sign_in(staff.email)

    assert (await console.get("/roles")).status_code == 403
    assert (await console.get("/roles/new")).status_code == 403


async def test_another_business_role_is_not_found_and_left_alone(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    ours = await make_tenant(database)
    theirs = await make_tenant(database)
    role = await api_create_role(client, theirs, ["identity.user.read"])
    await console.sign_in(ours.owner.email)
    await console.get("/roles")

    shown = await console.get(f"/roles/{role['id']}")
    changed = await console.post(
        f"/roles/{role['id']}", {"name": "Mine", "permissions": "identity.*", "version": "1"}
    )
    deleted = await console.post(f"/roles/{role['id']}/delete")
    unknown = await console.get(f"/roles/{uuid.uuid4()}")

    assert [shown.status_code, changed.status_code, deleted.status_code] == [404, 404, 404]
    assert unknown.status_code == 404
    assert (await api_roles(client, theirs))[role["key"]] == role
