"""Field definitions kept in memory between requests (`nexus.core.tenant_config`): every
change is seen by the next request, the version moves only with configuration, one business's
fields never reach another's, and a warm cache spares the definitions query."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select, update

from nexus.core.db import Database, bind_tenant
from nexus.core.tenant_config import cached, note_version
from nexus.crm.models import FieldDefinition
from nexus.identity.models import Tenant
from tests.crm.test_fields import define
from tests.identity.factories import TenantFixture, make_tenant
from tests.statements import counting

CONTACTS = "/api/v1/crm/contacts"
FIELDS = "/api/v1/crm/fields"


async def add_contact(
    client: httpx.AsyncClient, tenant: TenantFixture, **custom: Any
) -> httpx.Response:
    body = {"first_name": "Ada", "last_name": uuid.uuid4().hex[:8], "custom": custom}
    return await client.post(CONTACTS, json=body, headers=tenant.headers)


async def tenant_row(database: Database, tenant: TenantFixture) -> tuple[int, int, Any]:
    async with database.transaction() as session:
        row = (
            await session.execute(
                select(Tenant.config_version, Tenant.version, Tenant.updated_at).where(
                    Tenant.id == tenant.tenant_id
                )
            )
        ).one()
        return row[0], row[1], row[2]


async def test_a_new_required_field_applies_to_the_very_next_request(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database, modules=["crm"])
    assert (await add_contact(client, tenant)).status_code == 201  # definitions now cached
    await define(client, tenant, "ward", required=True)

    refused = await add_contact(client, tenant)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "body.custom.ward"
    assert (await add_contact(client, tenant, ward="B2")).status_code == 201


async def test_changed_and_deleted_fields_apply_to_the_next_request(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database, modules=["crm"])
    made = await define(client, tenant, "grade", "choice", choices=["A", "B"])
    assert (await add_contact(client, tenant, grade="A")).status_code == 201
    assert (await add_contact(client, tenant, grade="C")).status_code == 422

    changed = await client.patch(
        f"{FIELDS}/{made['id']}",
        json={"choices": ["A", "B", "C"], "version": made["version"]},
        headers=tenant.headers,
    )
    assert changed.status_code == 200, changed.text
    assert (await add_contact(client, tenant, grade="C")).status_code == 201

    deleted = await client.delete(f"{FIELDS}/{made['id']}", headers=tenant.headers)
    assert deleted.status_code == 204
    unknown = await add_contact(client, tenant, grade="A")
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["code"] == "unknown_field"


async def test_each_field_change_raises_the_config_version_and_nothing_else(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database, modules=["crm"])
    start, version, updated_at = await tenant_row(database, tenant)

    made = await define(client, tenant, "ward")
    assert (await tenant_row(database, tenant)) == (start + 1, version, updated_at)
    same = {"label": made["label"], "version": made["version"]}
    unchanged = await client.patch(f"{FIELDS}/{made['id']}", json=same, headers=tenant.headers)
    assert unchanged.status_code == 200
    assert (await tenant_row(database, tenant))[0] == start + 1  # nothing changed
    renamed = {"label": "Hospital ward", "version": made["version"]}
    changed = await client.patch(f"{FIELDS}/{made['id']}", json=renamed, headers=tenant.headers)
    assert changed.status_code == 200
    assert (await tenant_row(database, tenant))[0] == start + 2
    await client.delete(f"{FIELDS}/{made['id']}", headers=tenant.headers)
    assert (await tenant_row(database, tenant))[0] == start + 3

    # Records are not configuration: adding one leaves the version alone.
    assert (await add_contact(client, tenant)).status_code == 201
    assert (await tenant_row(database, tenant)) == (start + 3, version, updated_at)


async def test_a_refused_change_leaves_the_version(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database, modules=["crm"])
    await define(client, tenant, "ward")
    before = await tenant_row(database, tenant)
    taken = await client.post(
        FIELDS,
        json={"entity": "contact", "key": "ward", "label": "Ward", "kind": "text"},
        headers=tenant.headers,
    )
    assert taken.status_code == 409
    assert await tenant_row(database, tenant) == before


async def test_one_business_fields_never_reach_another(
    client: httpx.AsyncClient, database: Database
) -> None:
    clinic = await make_tenant(database, modules=["crm"])
    shop = await make_tenant(database, modules=["crm"])
    assert (await add_contact(client, clinic)).status_code == 201
    assert (await add_contact(client, shop)).status_code == 201
    await define(client, clinic, "allergy", required=True)

    assert (await add_contact(client, clinic)).status_code == 422
    assert (await add_contact(client, shop)).status_code == 201
    foreign = await add_contact(client, shop, allergy="none")
    assert foreign.status_code == 422
    assert foreign.json()["errors"][0]["code"] == "unknown_field"


async def test_a_warm_cache_spares_the_definitions_query(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database, modules=["crm"])
    await define(client, tenant, "ward")
    with counting(database) as first:
        assert (await add_contact(client, tenant, ward="A")).status_code == 201
    with counting(database) as second:
        assert (await add_contact(client, tenant, ward="B")).status_code == 201
    assert sum("crm_field_definitions" in s for s in first) == 1
    assert sum("crm_field_definitions" in s for s in second) == 0


def _reads_of_the_business(statements: list[str]) -> int:
    return sum(" ".join(s.split()).startswith("SELECT tenants.") for s in statements)


async def test_the_business_country_for_phone_numbers_is_read_once_per_process(
    client: httpx.AsyncClient, database: Database
) -> None:
    """With an API key, whose lookup loads no business object to read it from."""
    tenant = await make_tenant(database, modules=["crm"])
    key = {"Authorization": f"Bearer {tenant.api_key}"}
    body = {"first_name": "Ada", "phone": "0803 123 4567"}
    with counting(database) as first:
        created = await client.post(CONTACTS, json=body, headers=key)
    with counting(database) as second:
        again = await client.post(CONTACTS, json={**body, "phone": "0803 765 4321"}, headers=key)

    assert (created.json()["phone"], again.json()["phone"]) == ("+2348031234567", "+2348037654321")
    assert (_reads_of_the_business(first), _reads_of_the_business(second)) == (1, 0)


async def test_the_cache_follows_the_version_not_the_rows(
    client: httpx.AsyncClient, database: Database
) -> None:
    """A change made elsewhere (another process) is seen once the version moves with it."""
    tenant = await make_tenant(database, modules=["crm"])
    await define(client, tenant, "ward")
    assert (await add_contact(client, tenant)).status_code == 201

    async with database.transaction(tenant_id=tenant.tenant_id) as session:
        # Past the ORM, as another process's unit of work would appear from here.
        table = FieldDefinition.__table__
        connection = await session.connection()
        await connection.execute(
            update(table).where(table.c.tenant_id == tenant.tenant_id).values(required=True)
        )
    assert (await add_contact(client, tenant)).status_code == 201  # the version did not move

    async with database.transaction() as session:
        await session.execute(
            update(Tenant)
            .where(Tenant.id == tenant.tenant_id)
            .values(config_version=Tenant.config_version + 1)
        )
    assert (await add_contact(client, tenant)).status_code == 422


async def test_an_orm_update_statement_on_definitions_raises_the_version(
    database: Database,
) -> None:
    tenant = await make_tenant(database, modules=["crm"])
    start = (await tenant_row(database, tenant))[0]
    async with database.transaction() as session:
        await bind_tenant(session, tenant.tenant_id)
        await session.execute(update(FieldDefinition).values(required=False))
    assert (await tenant_row(database, tenant))[0] == start + 1


async def test_cached_reads_once_per_version_and_not_after_a_change_in_the_session(
    database: Database,
) -> None:
    tenant = await make_tenant(database, modules=["crm"])
    loads: list[int] = []

    async def load() -> int:
        loads.append(1)
        return len(loads)

    async with database.transaction() as session:
        await bind_tenant(session, tenant.tenant_id)
        assert await cached(session, "thing", load) == 1  # no version noted: no cache
        note_version(session, tenant.tenant_id, 7)
        assert await cached(session, "thing", load) == 2
        assert await cached(session, "thing", load) == 2
        note_version(session, tenant.tenant_id, 8)
        assert await cached(session, "thing", load) == 3
        note_version(session, uuid.uuid4(), 8)  # another tenant's version: not trusted
        assert await cached(session, "thing", load) == 4
        note_version(session, tenant.tenant_id, 8)
        assert await cached(session, "thing", load) == 3
        session.add(
            FieldDefinition(entity="contact", key="ward", label="Ward", kind="text", choices=[])
        )
        await session.flush()  # this session changed the configuration: it reads afresh
        assert await cached(session, "thing", load) == 5
