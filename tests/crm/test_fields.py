"""Custom field definitions, and record values checked, encrypted and audited against them."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from nexus.core.audit import AuditEvent
from nexus.core.db import Database, bind_tenant
from nexus.crm.models import Contact, FieldDefinition
from nexus.crm.service import fields
from tests.identity.factories import TenantFixture, add_member, make_tenant

FIELDS = "/api/v1/crm/fields"
CONTACTS = "/api/v1/crm/contacts"


async def crm_tenant(database: Database) -> TenantFixture:
    return await make_tenant(database, modules=["crm"])


async def define(
    client: httpx.AsyncClient, tenant: TenantFixture, key: str, kind: str = "text", **extra: Any
) -> dict[str, Any]:
    body = {"entity": "contact", "key": key, "label": key.title(), "kind": kind, **extra}
    response = await client.post(FIELDS, json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made


async def audit_of(database: Database, target: str, action: str) -> list[list[str]]:
    async with database.transaction() as session:
        rows = await session.scalars(
            select(AuditEvent.changes)
            .where(AuditEvent.target_id == target, AuditEvent.action == action)
            .order_by(AuditEvent.occurred_at, AuditEvent.id)
        )
        return [list(changes) for changes in rows]


async def contact_row(database: Database, tenant: TenantFixture, contact_id: str) -> Contact:
    async with database.transaction(tenant_id=tenant.tenant_id) as session:
        row = await session.scalar(select(Contact).where(Contact.id == uuid.UUID(contact_id)))
        assert row is not None
        return row


async def test_a_field_is_defined_listed_and_filtered_by_entity(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    made = await define(client, tenant, "blood_group", "choice", choices=["A", "B", "A"])
    await client.post(
        FIELDS,
        json={"entity": "company", "key": "sector", "label": "Sector", "kind": "text"},
        headers=tenant.headers,
    )

    listed = await client.get(FIELDS, params={"entity": "contact"}, headers=tenant.headers)

    assert made["choices"] == ["A", "B"]
    assert (made["required"], made["sensitive"], made["version"]) == (False, False, 1)
    assert [f["key"] for f in listed.json()["items"]] == ["blood_group"]
    assert await audit_of(database, made["id"], "crm.field.created") != []


async def test_a_key_is_unique_per_entity(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await crm_tenant(database)
    first = await define(client, tenant, "nickname")

    again = await client.post(
        FIELDS,
        json={"entity": "contact", "key": "nickname", "label": "Again", "kind": "text"},
        headers=tenant.headers,
    )
    other_entity = await client.post(
        FIELDS,
        json={"entity": "company", "key": "nickname", "label": "Nick", "kind": "text"},
        headers=tenant.headers,
    )

    assert again.status_code == 409
    assert (again.json()["code"], again.json()["existing_id"]) == ("field_key_taken", first["id"])
    assert other_entity.status_code == 201


async def test_choices_belong_to_choice_fields_only(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)

    empty = await client.post(
        FIELDS,
        json={"entity": "contact", "key": "size", "label": "Size", "kind": "choice"},
        headers=tenant.headers,
    )
    extra = await client.post(
        FIELDS,
        json={
            "entity": "contact",
            "key": "age",
            "label": "Age",
            "kind": "number",
            "choices": ["1"],
        },
        headers=tenant.headers,
    )

    assert empty.status_code == 422
    assert empty.json()["errors"][0]["field"] == "body.choices"
    assert extra.status_code == 422
    assert extra.json()["errors"][0]["code"] == "choices_not_allowed"


async def test_a_field_is_changed_with_its_version_and_deleted(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    made = await define(client, tenant, "nickname")
    path = f"{FIELDS}/{made['id']}"

    changed = await client.patch(
        path, json={"label": "Known as", "required": True, "version": 1}, headers=tenant.headers
    )
    stale = await client.patch(path, json={"label": "Alias", "version": 1}, headers=tenant.headers)
    cleared = await client.patch(path, json={"label": None, "version": 2}, headers=tenant.headers)
    deleted = await client.delete(path, headers=tenant.headers)
    after = await client.get(path, headers=tenant.headers)

    assert (changed.json()["label"], changed.json()["required"]) == ("Known as", True)
    assert changed.json()["version"] == 2
    assert stale.status_code == 412
    assert cleared.status_code == 422
    assert deleted.status_code == 204
    assert after.status_code == 404
    assert after.json()["code"] == "field_not_found"
    assert await audit_of(database, made["id"], "crm.field.updated") == [["label", "required"]]


async def test_values_are_checked_against_the_definitions(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    await define(client, tenant, "shoe_size", "number")
    await define(client, tenant, "birthday", "date")
    await define(client, tenant, "tier", "choice", choices=["gold", "silver"])
    await define(client, tenant, "newsletter", "boolean")

    async def create(custom: dict[str, Any]) -> httpx.Response:
        body = {"first_name": "Ada", "custom": custom}
        return await client.post(CONTACTS, json=body, headers=tenant.headers)

    unknown = await create({"nope": 1})
    wrong_number = await create({"shoe_size": "42"})
    boolean_as_number = await create({"shoe_size": True})
    wrong_date = await create({"birthday": "31/12/1990"})
    not_a_choice = await create({"tier": "bronze"})
    wrong_boolean = await create({"newsletter": "yes"})
    good = await create(
        {"shoe_size": 42.5, "birthday": "1990-12-31", "tier": "gold", "newsletter": False}
    )

    assert unknown.status_code == 422
    assert unknown.json()["errors"][0] == {
        "field": "body.custom.nope",
        "reason": "No contact field has the key 'nope'",
        "code": "unknown_field",
    }
    for response, key in (
        (wrong_number, "shoe_size"),
        (boolean_as_number, "shoe_size"),
        (wrong_date, "birthday"),
        (not_a_choice, "tier"),
        (wrong_boolean, "newsletter"),
    ):
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == f"body.custom.{key}"
    assert good.status_code == 201
    assert good.json()["custom"] == {
        "shoe_size": 42.5,
        "birthday": "1990-12-31",
        "tier": "gold",
        "newsletter": False,
    }


async def test_a_required_field_must_have_a_value(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    await define(client, tenant, "member_no", required=True)

    missing = await client.post(CONTACTS, json={"first_name": "Ada"}, headers=tenant.headers)
    made = await client.post(
        CONTACTS, json={"first_name": "Ada", "custom": {"member_no": "M1"}}, headers=tenant.headers
    )
    path = f"{CONTACTS}/{made.json()['id']}"
    cleared = await client.patch(
        path, json={"custom": {"member_no": None}, "version": 1}, headers=tenant.headers
    )
    other_change = await client.patch(
        path, json={"job_title": "Chef", "version": 1}, headers=tenant.headers
    )

    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "body.custom.member_no"
    assert missing.json()["errors"][0]["code"] == "required"
    assert made.status_code == 201
    assert cleared.status_code == 422
    assert other_change.status_code == 200
    assert other_change.json()["custom"] == {"member_no": "M1"}


async def test_sensitive_values_are_encrypted_and_kept_out_of_custom(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    await define(client, tenant, "allergies", sensitive=True)
    await define(client, tenant, "nickname")

    made = await client.post(
        CONTACTS,
        json={"first_name": "Ada", "custom": {"allergies": "penicillin", "nickname": "Addy"}},
        headers=tenant.headers,
    )

    row = await contact_row(database, tenant, made.json()["id"])
    assert row.custom == {"nickname": "Addy"}
    assert row.sensitive_encrypted is not None
    assert b"penicillin" not in row.sensitive_encrypted
    assert made.json()["has_sensitive"] is True


async def test_sensitive_values_are_shown_only_with_the_permission_and_each_read_is_audited(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    await define(client, tenant, "allergies", sensitive=True)
    made = await client.post(
        CONTACTS,
        json={"first_name": "Ada", "custom": {"allergies": "penicillin"}},
        headers=tenant.headers,
    )
    contact_id = made.json()["id"]
    plain = await add_member(database, tenant, permissions=["crm.contact.read", "crm.record.all"])
    allowed = await add_member(
        database,
        tenant,
        permissions=["crm.contact.read", "crm.record.all", "crm.sensitive.read"],
    )
    before = await audit_of(database, contact_id, "crm.contact.sensitive_read")

    hidden = await client.get(f"{CONTACTS}/{contact_id}", headers=plain.headers)
    hidden_list = await client.get(CONTACTS, headers=plain.headers)
    after_hidden = await audit_of(database, contact_id, "crm.contact.sensitive_read")
    shown = await client.get(f"{CONTACTS}/{contact_id}", headers=allowed.headers)
    shown_list = await client.get(CONTACTS, headers=allowed.headers)
    after_shown = await audit_of(database, contact_id, "crm.contact.sensitive_read")

    assert (hidden.json()["custom"], hidden.json()["has_sensitive"]) == ({}, True)
    assert hidden_list.json()["items"][0]["custom"] == {}
    assert after_hidden == before
    assert shown.json()["custom"] == {"allergies": "penicillin"}
    assert shown_list.json()["items"][0]["custom"] == {"allergies": "penicillin"}
    assert after_shown == [*before, ["allergies"], ["allergies"]]


async def test_a_sensitive_value_is_changed_and_cleared(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    await define(client, tenant, "allergies", sensitive=True)
    await define(client, tenant, "diet", sensitive=True)
    made = await client.post(
        CONTACTS,
        json={"first_name": "Ada", "custom": {"allergies": "penicillin"}},
        headers=tenant.headers,
    )
    path = f"{CONTACTS}/{made.json()['id']}"

    added = await client.patch(
        path, json={"custom": {"diet": "vegan"}, "version": 1}, headers=tenant.headers
    )
    cleared = await client.patch(
        path,
        json={"custom": {"diet": None, "allergies": None}, "version": 2},
        headers=tenant.headers,
    )

    assert added.json()["custom"] == {"allergies": "penicillin", "diet": "vegan"}
    assert (cleared.json()["custom"], cleared.json()["has_sensitive"]) == ({}, False)
    row = await contact_row(database, tenant, made.json()["id"])
    assert row.sensitive_encrypted is None
    assert await audit_of(database, made.json()["id"], "crm.contact.updated") == [
        ["custom"],
        ["custom"],
    ]


async def test_values_merge_into_those_held_and_drop_deleted_fields(
    session: AsyncSession, database: Database
) -> None:
    tenant = await crm_tenant(database)
    await bind_tenant(session, tenant.tenant_id)
    session.add_all(
        [
            FieldDefinition(entity="contact", key="tier", label="Tier", kind="text"),
            FieldDefinition(
                entity="contact", key="allergies", label="A", kind="text", sensitive=True
            ),
        ]
    )
    await session.flush()
    held = fields.CustomValues(
        plain={"tier": "gold", "retired": "x"}, sensitive={"allergies": "nuts"}
    )

    values = await fields.check_values(session, "contact", {"tier": " silver "}, held=held)
    sealed = fields.seal(session, values.sensitive)

    assert values == fields.CustomValues(plain={"tier": "silver"}, sensitive={"allergies": "nuts"})
    assert fields.unseal(session, sealed) == {"allergies": "nuts"}
    assert fields.seal(session, {}) is None
