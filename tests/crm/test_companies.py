"""Companies: creation, duplicates, search and tags, record-level access, soft delete, merge
(contacts follow), sensitive values, and the list's fixed query count."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select

from nexus.core.audit import AuditEvent
from nexus.core.db import Database, bind_tenant
from nexus.crm.models import Contact
from tests.identity.factories import TenantFixture, add_member, make_tenant
from tests.statements import counting

COMPANIES = "/api/v1/crm/companies"
CONTACTS = "/api/v1/crm/contacts"


async def crm_tenant(database: Database) -> TenantFixture:
    return await make_tenant(database, modules=["crm"])


async def add_company(
    client: httpx.AsyncClient, headers: dict[str, str], **fields: Any
) -> dict[str, Any]:
    body = {"name": "Ada Stores", **fields}
    response = await client.post(COMPANIES, json=body, headers=headers)
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made


async def actions_on(database: Database, target: str) -> list[str]:
    async with database.transaction() as session:
        rows = await session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.target_id == target)
            .order_by(AuditEvent.occurred_at, AuditEvent.id)
        )
        return list(rows)


async def test_a_company_is_created_with_normalised_contact_points(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)

    made = await add_company(
        client,
        tenant.headers,
        email="Hello@AdaStores.NG",
        phone="0803 123 4567",
        website="https://adastores.ng",
        tags=["Retail"],
    )

    assert (made["email"], made["phone"]) == ("Hello@adastores.ng", "+2348031234567")
    assert (made["tags"], made["owner_id"]) == (["retail"], str(tenant.owner.user_id))
    assert await actions_on(database, made["id"]) == ["crm.company.created"]


async def test_a_duplicate_company_answers_409_with_the_existing_id(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    first = await add_company(client, tenant.headers, email="hello@ada.ng")

    again = await client.post(
        COMPANIES, json={"name": "Other", "email": "HELLO@ada.ng"}, headers=tenant.headers
    )

    assert again.status_code == 409
    assert (again.json()["code"], again.json()["existing_id"]) == ("duplicate_company", first["id"])


async def test_a_duplicate_company_is_not_named_to_staff_who_cannot_open_it(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    staff = await add_member(
        database, tenant, permissions=["crm.company.read", "crm.company.create"]
    )
    await add_company(client, tenant.headers, email="hello@ada.ng")

    again = await client.post(
        COMPANIES, json={"name": "Other", "email": "hello@ada.ng"}, headers=staff.headers
    )

    assert (again.status_code, again.json()["code"]) == (409, "duplicate_company")
    assert "existing_id" not in again.json()


async def test_companies_are_searched_filtered_and_sorted(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    zeta = await add_company(client, tenant.headers, name="Zeta Foods", tags=["food"])
    alpha = await add_company(client, tenant.headers, name="Alpha Foods", tags=["Food", "b2b"])
    await add_company(client, tenant.headers, name="Gamma Tech")

    async def ids(**params: Any) -> list[str]:
        response = await client.get(COMPANIES, params=params, headers=tenant.headers)
        assert response.status_code == 200, response.text
        return [c["id"] for c in response.json()["items"]]

    assert await ids(q="FOODS", sort="name") == [alpha["id"], zeta["id"]]
    assert await ids(tag="b2b") == [alpha["id"]]
    assert await ids(tag="food", sort="-name") == [zeta["id"], alpha["id"]]


async def test_without_record_all_others_companies_are_404(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    staff = await add_member(
        database, tenant, permissions=["crm.company.read", "crm.company.delete"]
    )
    theirs = await add_company(client, tenant.headers)

    read = await client.get(f"{COMPANIES}/{theirs['id']}", headers=staff.headers)
    deleted = await client.delete(f"{COMPANIES}/{theirs['id']}", headers=staff.headers)
    listed = await client.get(COMPANIES, headers=staff.headers)

    assert (read.status_code, read.json()["code"]) == (404, "company_not_found")
    assert deleted.status_code == 404
    assert listed.json()["items"] == []
    still = await client.get(f"{COMPANIES}/{theirs['id']}", headers=tenant.headers)
    assert still.status_code == 200


async def test_update_and_soft_delete(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await crm_tenant(database)
    made = await add_company(client, tenant.headers, industry="Retail")
    path = f"{COMPANIES}/{made['id']}"

    changed = await client.patch(
        path,
        json={"name": "Ada Stores Ltd", "industry": None, "version": 1},
        headers=tenant.headers,
    )
    stale = await client.patch(path, json={"name": "X", "version": 1}, headers=tenant.headers)
    deleted = await client.delete(path, headers=tenant.headers)
    read = await client.get(path, headers=tenant.headers)

    assert (changed.json()["name"], changed.json()["industry"]) == ("Ada Stores Ltd", None)
    assert stale.status_code == 412
    assert (deleted.status_code, read.status_code) == (204, 404)
    assert await actions_on(database, made["id"]) == [
        "crm.company.created",
        "crm.company.updated",
        "crm.company.deleted",
    ]


async def test_merge_moves_contacts_and_retires_the_other(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    keep = await add_company(client, tenant.headers, name="Ada Stores", tags=["retail"])
    other = await add_company(
        client, tenant.headers, name="Ada Stores Ltd", website="https://ada.ng", tags=["b2b"]
    )
    person = await client.post(
        CONTACTS, json={"first_name": "Chioma", "company_id": other["id"]}, headers=tenant.headers
    )

    merged = await client.post(
        f"{COMPANIES}/{keep['id']}/merge", json={"from_id": other["id"]}, headers=tenant.headers
    )
    gone = await client.get(f"{COMPANIES}/{other['id']}", headers=tenant.headers)
    moved = await client.get(f"{CONTACTS}/{person.json()['id']}", headers=tenant.headers)

    assert merged.status_code == 200, merged.text
    assert (merged.json()["website"], merged.json()["tags"]) == (
        "https://ada.ng",
        ["retail", "b2b"],
    )
    assert (gone.json()["code"], gone.json()["merged_into"]) == ("company_merged", keep["id"])
    assert (moved.json()["company_id"], moved.json()["version"]) == (keep["id"], 2)
    async with database.transaction(tenant_id=tenant.tenant_id) as session:
        await bind_tenant(session, tenant.tenant_id)
        linked = await session.scalar(
            select(Contact.company_id).where(Contact.id == uuid.UUID(person.json()["id"]))
        )
    assert str(linked) == keep["id"]
    assert await actions_on(database, other["id"]) == [
        "crm.company.created",
        "crm.company.merged_into",
    ]


async def test_sensitive_company_values_are_shown_with_the_permission_and_audited(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    field = {"entity": "company", "key": "bank_account", "label": "Bank", "kind": "text"}
    await client.post(
        "/api/v1/crm/fields", json={**field, "sensitive": True}, headers=tenant.headers
    )
    made = await add_company(client, tenant.headers, custom={"bank_account": "0123456789"})
    reader = await add_member(database, tenant, permissions=["crm.company.read", "crm.record.all"])

    hidden = await client.get(f"{COMPANIES}/{made['id']}", headers=reader.headers)

    assert made["custom"] == {"bank_account": "0123456789"}
    assert hidden.json()["custom"] == {}
    assert await actions_on(database, made["id"]) == [
        "crm.company.created",
        "crm.company.sensitive_read",
    ]


async def _list_counting_queries(
    client: httpx.AsyncClient, database: Database, tenant: TenantFixture
) -> tuple[int, int]:
    with counting(database) as statements:
        response = await client.get(COMPANIES, params={"q": "ada"}, headers=tenant.headers)
    return len(response.json()["items"]), len(statements)


async def test_company_list_queries_do_not_grow_with_the_page(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    await add_company(client, tenant.headers)
    small = await _list_counting_queries(client, database, tenant)
    for _ in range(5):
        await add_company(client, tenant.headers)

    large = await _list_counting_queries(client, database, tenant)

    assert (small[0], large[0]) == (1, 6)
    assert small[1] == large[1]
