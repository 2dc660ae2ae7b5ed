"""Activity types: the built-in kinds (fixed) and the business's own, provisioned by its
preset or added, renamed and deleted (not while some activity carries them)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from nexus.core.context import RequestContext
from nexus.core.db import Database, bind_tenant
from nexus.crm.provision import provision
from tests.crm.dealkit import ACTIVITIES
from tests.identity.factories import TenantFixture, add_member, make_tenant
from tests.statements import counting

TYPES = "/api/v1/crm/activity-types"


async def provisioned_tenant(database: Database) -> TenantFixture:
    """A business whose preset gave it a `consultation` type."""
    tenant = await make_tenant(database, modules=["crm"])
    ctx = RequestContext(
        tenant_id=tenant.tenant_id, actor_type="system", actor_id=None, permissions=frozenset({"*"})
    )
    section = {"activity_types": [{"key": "consultation", "name": "Consultation"}]}
    async with database.transaction(tenant_id=tenant.tenant_id) as session:
        await bind_tenant(session, tenant.tenant_id)
        await provision(session, ctx, section)
    return tenant


async def listed(client: httpx.AsyncClient, tenant: TenantFixture) -> list[dict[str, Any]]:
    response = await client.get(TYPES, headers=tenant.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_the_list_holds_the_built_in_kinds_then_the_presets(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await provisioned_tenant(database)

    items = await listed(client, tenant)

    assert [(i["key"], i["builtin"], i["id"] is None) for i in items] == [
        ("call", True, True),
        ("meeting", True, True),
        ("task", True, True),
        ("note", True, True),
        ("email", True, True),
        ("consultation", False, False),
    ]
    assert items[-1]["name"] == "Consultation"


async def test_a_type_is_added_used_renamed_and_deleted_only_when_unused(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await provisioned_tenant(database)
    made = await client.post(
        TYPES, json={"key": "site_visit", "name": "Site visit"}, headers=tenant.headers
    )
    assert made.status_code == 201, made.text
    type_id = made.json()["id"]
    used = await client.post(
        ACTIVITIES, json={"kind": "site_visit", "subject": "Visit Ikeja"}, headers=tenant.headers
    )
    assert used.status_code == 201, used.text

    renamed = await client.patch(
        f"{TYPES}/{type_id}", json={"name": "Home visit"}, headers=tenant.headers
    )
    in_use = await client.delete(f"{TYPES}/{type_id}", headers=tenant.headers)
    consultation = next(i for i in await listed(client, tenant) if i["key"] == "consultation")
    unused = await client.delete(f"{TYPES}/{consultation['id']}", headers=tenant.headers)

    assert (renamed.status_code, renamed.json()["name"]) == (200, "Home visit")
    assert renamed.json()["key"] == "site_visit"
    assert (in_use.status_code, in_use.json()["code"]) == (409, "activity_type_in_use")
    assert unused.status_code == 204
    assert [i["key"] for i in await listed(client, tenant) if not i["builtin"]] == ["site_visit"]
    gone = await client.post(
        ACTIVITIES, json={"kind": "consultation", "subject": "Check-up"}, headers=tenant.headers
    )
    assert gone.status_code == 422


async def test_a_key_of_a_built_in_or_existing_type_is_refused(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await provisioned_tenant(database)

    builtin = await client.post(
        TYPES, json={"key": "call", "name": "Phone"}, headers=tenant.headers
    )
    taken = await client.post(
        TYPES, json={"key": "consultation", "name": "Again"}, headers=tenant.headers
    )
    bad = await client.post(TYPES, json={"key": "Bad Key", "name": "X"}, headers=tenant.headers)

    assert (builtin.status_code, builtin.json()["code"]) == (409, "activity_type_key_taken")
    assert (taken.status_code, taken.json()["code"]) == (409, "activity_type_key_taken")
    assert taken.json()["existing_id"]
    assert bad.status_code == 422
    assert (await client.get(f"{TYPES}/{uuid.uuid4()}", headers=tenant.headers)).status_code == 404


async def test_staff_read_types_but_only_field_managers_change_them(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await provisioned_tenant(database)
    staff = await add_member(database, tenant, permissions=["crm.activity.read"])

    seen = await client.get(TYPES, headers=staff.headers)
    refused = await client.post(TYPES, json={"key": "x", "name": "X"}, headers=staff.headers)

    assert seen.status_code == 200
    assert refused.status_code == 403


async def test_the_list_is_one_query_whatever_the_number_of_types(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database, modules=["crm"])
    for index in range(3):
        made = await client.post(
            TYPES, json={"key": f"kind_{index}", "name": f"Kind {index}"}, headers=tenant.headers
        )
        assert made.status_code == 201

    with counting(database) as few:
        await listed(client, tenant)
    for index in range(3, 12):
        await client.post(
            TYPES, json={"key": f"kind_{index}", "name": f"Kind {index}"}, headers=tenant.headers
        )
    with counting(database) as many:
        assert len(await listed(client, tenant)) == 5 + 12

    assert len(many) == len(few)
