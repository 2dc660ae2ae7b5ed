from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select

from nexus.core.audit import AuditEvent
from nexus.core.context import RequestContext
from nexus.core.db import Database, bind_tenant
from nexus.core.integrations import put_integration
from nexus.identity.models import Branch
from tests.identity.factories import TenantFixture, add_member, make_tenant

PROFILE = "/api/v1/identity/tenant"
BRANCHES = "/api/v1/identity/branches"


async def last_audit(database: Database, tenant: TenantFixture) -> tuple[str, list[str]]:
    async with database.transaction() as session:
        row = (
            await session.execute(
                select(AuditEvent.action, AuditEvent.changes)
                .where(AuditEvent.tenant_id == tenant.tenant_id)
                .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
                .limit(1)
            )
        ).one()
    return row[0], list(row[1])


async def create_branch(
    client: httpx.AsyncClient, tenant: TenantFixture, code: str, **fields: Any
) -> dict[str, Any]:
    response = await client.post(
        BRANCHES, json={"name": f"Branch {code}", "code": code, **fields}, headers=tenant.headers
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


# --- the profile ---------------------------------------------------------------------------


async def test_get_profile(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await make_tenant(database, country="KE", currency="KES", timezone="Africa/Nairobi")

    response = await client.get(PROFILE, headers=tenant.headers)

    assert response.status_code == 200
    assert response.json() == {
        "id": str(tenant.tenant_id),
        "name": f"Biz {tenant.slug}",
        "slug": tenant.slug,
        "country": "KE",
        "currency": "KES",
        "timezone": "Africa/Nairobi",
        "legal_name": None,
        "tax_id": None,
        "address": None,
        "enabled_modules": ["core", "identity"],
        "status": "active",
        "version": 1,
    }


async def test_update_profile(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await make_tenant(database)

    response = await client.patch(
        PROFILE,
        json={
            "legal_name": "Ada Stores Limited",
            "tax_id": "12345678-0001",
            "address": {"line1": "1 Marina", "city": "Lagos", "country": "NG"},
            "timezone": "Europe/London",
            "version": 1,
        },
        headers=tenant.headers,
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["legal_name"], body["tax_id"], body["timezone"], body["version"]) == (
        "Ada Stores Limited",
        "12345678-0001",
        "Europe/London",
        2,
    )
    assert body["address"] == {"line1": "1 Marina", "city": "Lagos", "country": "NG"}
    assert await last_audit(database, tenant) == (
        "identity.tenant.updated",
        ["address", "legal_name", "tax_id", "timezone"],
    )


async def test_clear_a_field_with_null(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await make_tenant(database)
    await client.patch(
        PROFILE, json={"legal_name": "Ada Ltd", "version": 1}, headers=tenant.headers
    )

    response = await client.patch(
        PROFILE, json={"legal_name": None}, headers={**tenant.headers, "If-Match": '"2"'}
    )

    assert response.status_code == 200
    assert (response.json()["legal_name"], response.json()["version"]) == (None, 3)


async def test_update_profile_refuses_bad_fields_and_changes_nothing(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    before = (await client.get(PROFILE, headers=tenant.headers)).json()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"timezone": "Mars/Olympus"}, "body.timezone"),
        ({"address": {"planet": "Mars"}}, "body.address.planet"),
        ({"address": {"country": "nigeria"}}, "body.address.country"),
        ({"name": ""}, "body.name"),
        ({"name": None}, "body.name"),
        ({"legal_name": "Ada\u0000Ltd"}, "body.legal_name"),
        ({"timezone": None}, "body.timezone"),
        ({"slug": "new-slug"}, "body.slug"),
    ]

    for body, field in cases:
        response = await client.patch(PROFILE, json={**body, "version": 1}, headers=tenant.headers)
        assert response.status_code == 422, body
        assert [e["field"] for e in response.json()["errors"]] == [field], body

    assert (await client.get(PROFILE, headers=tenant.headers)).json() == before


async def test_update_profile_needs_a_current_version(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)

    missing = await client.patch(PROFILE, json={"tax_id": "1"}, headers=tenant.headers)
    stale = await client.patch(PROFILE, json={"tax_id": "1", "version": 2}, headers=tenant.headers)

    assert (missing.status_code, missing.json()["code"]) == (428, "version_required")
    assert (stale.status_code, stale.json()["code"]) == (412, "version_mismatch")
    assert (await client.get(PROFILE, headers=tenant.headers)).json()["tax_id"] is None


async def test_four_callers_on_update_profile(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    other = await make_tenant(database)
    staff = await add_member(database, tenant, role="staff")
    holder = await add_member(database, tenant, permissions=["identity.tenant.update"])
    body = {"tax_id": "TIN-1", "version": 1}

    anonymous = await client.patch(PROFILE, json=body)
    refused = await client.patch(PROFILE, json=body, headers=staff.headers)
    foreign = await client.patch(PROFILE, json=body, headers=other.headers)
    allowed = await client.patch(PROFILE, json=body, headers=holder.headers)

    assert anonymous.status_code == 401
    assert refused.status_code == 403
    assert foreign.json()["id"] == str(other.tenant_id)  # the caller's own business, never A's
    assert allowed.status_code == 200
    assert allowed.json()["tax_id"] == "TIN-1"
    assert allowed.json()["version"] == 2


# --- branches ------------------------------------------------------------------------------


async def test_create_and_get_branch(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await make_tenant(database)

    created = await create_branch(
        client,
        tenant,
        "IKJ",
        address={"line1": "12 Allen Avenue", "city": "Lagos"},
        phone="+2348012345678",
    )
    fetched = await client.get(f"{BRANCHES}/{created['id']}", headers=tenant.headers)

    assert fetched.status_code == 200
    assert fetched.json() == created
    assert (created["code"], created["phone"], created["is_headquarters"]) == (
        "IKJ",
        "+2348012345678",
        False,
    )
    assert created["address"] == {"line1": "12 Allen Avenue", "city": "Lagos"}
    assert await last_audit(database, tenant) == (
        "identity.branch.created",
        ["address", "code", "is_headquarters", "name", "phone"],
    )


async def test_branch_code_is_unique_in_the_business(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    other = await make_tenant(database)
    await create_branch(client, tenant, "LAG")

    taken = await client.post(BRANCHES, json={"name": "Dup", "code": "LAG"}, headers=tenant.headers)
    elsewhere = await client.post(
        BRANCHES, json={"name": "Same code", "code": "LAG"}, headers=other.headers
    )

    assert taken.status_code == 409
    assert taken.json()["code"] == "branch_code_taken"
    assert [e["field"] for e in taken.json()["errors"]] == ["body.code"]
    assert elsewhere.status_code == 201
    listed = (await client.get(BRANCHES, headers=tenant.headers)).json()["items"]
    assert [b["code"] for b in listed] == ["LAG"]


async def test_only_one_headquarters(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await make_tenant(database)
    first = await create_branch(client, tenant, "HQ1", is_headquarters=True)
    second = await create_branch(client, tenant, "HQ2", is_headquarters=True)

    listed = (await client.get(BRANCHES, headers=tenant.headers)).json()["items"]

    assert [(b["id"], b["is_headquarters"]) for b in listed] == [
        (first["id"], False),
        (second["id"], True),
    ]


async def test_update_branch(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await make_tenant(database)
    branch = await create_branch(client, tenant, "ABJ", phone="+234")
    await create_branch(client, tenant, "KAN")
    path = f"{BRANCHES}/{branch['id']}"

    response = await client.patch(
        path, json={"name": "Abuja", "phone": None, "version": 1}, headers=tenant.headers
    )
    clash = await client.patch(path, json={"code": "KAN", "version": 2}, headers=tenant.headers)
    stale = await client.patch(path, json={"name": "X", "version": 1}, headers=tenant.headers)
    missing = await client.patch(path, json={"name": "X"}, headers=tenant.headers)

    assert response.status_code == 200
    assert (response.json()["name"], response.json()["phone"], response.json()["version"]) == (
        "Abuja",
        None,
        2,
    )
    assert (clash.status_code, clash.json()["code"]) == (409, "branch_code_taken")
    assert (stale.status_code, stale.json()["code"]) == (412, "version_mismatch")
    assert (missing.status_code, missing.json()["code"]) == (428, "version_required")
    after = (await client.get(path, headers=tenant.headers)).json()
    assert (after["code"], after["name"], after["version"]) == ("ABJ", "Abuja", 2)


async def test_delete_branch_is_soft_and_keeps_the_code(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    branch = await create_branch(client, tenant, "OLD")
    path = f"{BRANCHES}/{branch['id']}"

    deleted = await client.delete(path, headers=tenant.headers)
    fetched = await client.get(path, headers=tenant.headers)
    again = await client.delete(path, headers=tenant.headers)
    reuse = await client.post(BRANCHES, json={"name": "New", "code": "OLD"}, headers=tenant.headers)

    assert deleted.status_code == 204
    assert (fetched.status_code, fetched.json()["code"]) == (404, "branch_not_found")
    assert again.status_code == 404
    assert (await client.get(BRANCHES, headers=tenant.headers)).json()["items"] == []
    assert (reuse.status_code, reuse.json()["code"]) == (409, "branch_code_taken")
    async with database.transaction(tenant.tenant_id) as session:
        await bind_tenant(session, tenant.tenant_id)
        deleted_at = await session.scalar(
            select(Branch.deleted_at).where(Branch.id == uuid.UUID(branch["id"]))
        )
    assert deleted_at is not None


async def test_list_branches_pages(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await make_tenant(database)
    made = [await create_branch(client, tenant, f"P{i}") for i in range(3)]

    first = (await client.get(BRANCHES, params={"limit": 2}, headers=tenant.headers)).json()
    second = (
        await client.get(
            BRANCHES, params={"limit": 2, "cursor": first["next_cursor"]}, headers=tenant.headers
        )
    ).json()

    assert [b["id"] for b in first["items"] + second["items"]] == [b["id"] for b in made]
    assert second["next_cursor"] is None


async def test_four_callers_on_update_branch(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await make_tenant(database)
    other = await make_tenant(database)
    branch = await create_branch(client, tenant, "FOUR")
    viewer = await add_member(database, tenant, role="viewer")
    holder = await add_member(database, tenant, permissions=["identity.tenant.update"])
    path = f"{BRANCHES}/{branch['id']}"
    body = {"name": "Renamed", "version": 1}

    anonymous = await client.patch(path, json=body)
    refused = await client.patch(path, json=body, headers=viewer.headers)
    foreign = await client.patch(path, json=body, headers=other.headers)
    unchanged = (await client.get(path, headers=tenant.headers)).json()
    allowed = await client.patch(path, json=body, headers=holder.headers)

    assert anonymous.status_code == 401
    assert refused.status_code == 403
    assert (foreign.status_code, foreign.json()["code"]) == (404, "branch_not_found")
    assert unchanged == branch
    assert allowed.status_code == 200
    assert allowed.json()["name"] == "Renamed"


# --- integrations --------------------------------------------------------------------------


async def test_integrations_show_secret_names_never_secrets(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    other = await make_tenant(database)
    outsider = await add_member(database, tenant, permissions=["identity.user.read"])
    async with database.transaction(tenant.tenant_id) as session:
        await bind_tenant(session, tenant.tenant_id)
        await put_integration(
            session,
            RequestContext.system(tenant.tenant_id),
            database.keyring,
            provider="paystack",
            category="payments",
            options={"currency": "NGN"},
            secrets={"secret_key": "sk_live_very_secret"},
        )

    response = await client.get("/api/v1/identity/integrations", headers=tenant.headers)
    foreign = await client.get("/api/v1/identity/integrations", headers=other.headers)
    refused = await client.get("/api/v1/identity/integrations", headers=outsider.headers)
    anonymous = await client.get("/api/v1/identity/integrations")

    assert response.status_code == 200
    assert response.json() == {
        "items": [
            {
                "provider": "paystack",
                "category": "payments",
                "options": {"currency": "NGN"},
                "secret_names": ["secret_key"],
                "is_enabled": True,
            }
        ],
        "next_cursor": None,
    }
    assert "sk_live_very_secret" not in response.text
    assert foreign.json()["items"] == []
    assert refused.status_code == 403
    assert anonymous.status_code == 401
