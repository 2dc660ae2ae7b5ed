"""Contacts: creation with normalised e-mail and phone, duplicates, search and filters,
record-level access, versions, soft delete, merge, and the list's fixed query count."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select

from nexus.core.audit import AuditEvent
from nexus.core.db import Database, bind_tenant
from nexus.core.events import OutboxEvent
from nexus.crm.models import Activity, Consent, Deal, Pipeline, Stage
from tests.identity.factories import TenantFixture, add_member, make_tenant, unique
from tests.statements import counting

CONTACTS = "/api/v1/crm/contacts"
COMPANIES = "/api/v1/crm/companies"


async def crm_tenant(database: Database) -> TenantFixture:
    return await make_tenant(database, modules=["crm"])


async def add_contact(
    client: httpx.AsyncClient, headers: dict[str, str], **fields: Any
) -> dict[str, Any]:
    body = {"first_name": "Chioma", **fields}
    response = await client.post(CONTACTS, json=body, headers=headers)
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


async def test_a_contact_is_created_with_normalised_email_phone_and_tags(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)

    response = await client.post(
        CONTACTS,
        json={
            "first_name": "Chioma",
            "last_name": "Okafor",
            "email": "Chioma@Example.COM",
            "phone": "0803 123 4567",
            "tags": ["VIP", "vip", "Lagos"],
            "address": {"line1": "1 Marina", "city": "Lagos", "country": "NG"},
        },
        headers=tenant.headers,
    )

    body = response.json()
    assert response.status_code == 201
    assert (body["email"], body["phone"]) == ("Chioma@example.com", "+2348031234567")
    assert body["tags"] == ["vip", "lagos"]
    assert body["owner_id"] == str(tenant.owner.user_id)
    assert body["address"] == {"line1": "1 Marina", "city": "Lagos", "country": "NG"}
    assert (body["version"], body["custom"], body["has_sensitive"]) == (1, {}, False)
    assert await actions_on(database, body["id"]) == ["crm.contact.created"]
    async with database.transaction() as session:
        events = list(
            await session.scalars(
                select(OutboxEvent).where(
                    OutboxEvent.type == "crm.contact.created",
                    OutboxEvent.tenant_id == tenant.tenant_id,
                )
            )
        )
    assert [e.payload for e in events] == [
        {"contact_id": body["id"], "company_id": None, "owner_id": str(tenant.owner.user_id)}
    ]


async def test_a_bad_email_or_phone_is_refused_by_name(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)

    email = await client.post(
        CONTACTS, json={"first_name": "A", "email": "not-an-email"}, headers=tenant.headers
    )
    phone = await client.post(
        CONTACTS, json={"first_name": "A", "phone": "12"}, headers=tenant.headers
    )

    assert (email.status_code, email.json()["errors"][0]["field"]) == (422, "body.email")
    assert (phone.status_code, phone.json()["errors"][0]["field"]) == (422, "body.phone")
    listed = await client.get(CONTACTS, headers=tenant.headers)
    assert listed.json()["items"] == []


async def test_a_phone_is_read_in_the_business_country(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database, modules=["crm"], country="GB", currency="GBP")

    made = await add_contact(client, tenant.headers, phone="020 7946 0018")

    assert made["phone"] == "+442079460018"


async def test_duplicates_by_email_or_phone_answer_409_with_the_existing_id(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    first = await add_contact(client, tenant.headers, email="ada@example.com", phone="08031234567")

    by_email = await client.post(
        CONTACTS, json={"first_name": "B", "email": "ADA@example.com"}, headers=tenant.headers
    )
    by_phone = await client.post(
        CONTACTS, json={"first_name": "B", "phone": "+234 803 123 4567"}, headers=tenant.headers
    )

    assert by_email.status_code == 409
    assert by_email.json()["code"] == "duplicate_contact"
    assert (by_email.json()["existing_id"], by_email.json()["field"]) == (first["id"], "email")
    assert by_email.json()["errors"][0]["field"] == "body.email"
    assert (by_phone.json()["existing_id"], by_phone.json()["field"]) == (first["id"], "phone")
    listed = await client.get(CONTACTS, headers=tenant.headers)
    assert [c["id"] for c in listed.json()["items"]] == [first["id"]]


async def test_another_business_s_contact_with_the_same_email_and_phone_is_no_duplicate(
    client: httpx.AsyncClient, database: Database
) -> None:
    other, tenant = await crm_tenant(database), await crm_tenant(database)
    await add_contact(client, other.headers, email="shared@example.com", phone="08039990000")

    made = await add_contact(
        client, tenant.headers, email="shared@example.com", phone="08039990000"
    )
    again = await client.post(
        CONTACTS, json={"first_name": "B", "email": "shared@example.com"}, headers=tenant.headers
    )

    assert made["email"] == "shared@example.com"
    assert (again.status_code, again.json()["existing_id"]) == (409, made["id"])


async def test_when_email_and_phone_match_different_contacts_the_email_match_is_named(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    by_phone = await add_contact(client, tenant.headers, phone="08031234567")
    by_email = await add_contact(client, tenant.headers, email="ada@example.com")

    both = await client.post(
        CONTACTS,
        json={"first_name": "B", "email": "ada@example.com", "phone": "08031234567"},
        headers=tenant.headers,
    )
    phone_only = await client.post(
        CONTACTS,
        json={"first_name": "B", "email": "new@example.com", "phone": "08031234567"},
        headers=tenant.headers,
    )

    assert (both.status_code, both.json()["field"]) == (409, "email")
    assert both.json()["existing_id"] == by_email["id"]
    assert (phone_only.status_code, phone_only.json()["field"]) == (409, "phone")
    assert phone_only.json()["existing_id"] == by_phone["id"]


async def test_an_update_into_a_duplicate_is_refused_and_a_deleted_one_does_not_count(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    first = await add_contact(client, tenant.headers, email="ada@example.com")
    second = await add_contact(client, tenant.headers, email="bola@example.com")
    path = f"{CONTACTS}/{second['id']}"

    clash = await client.patch(
        path, json={"email": "Ada@Example.com", "version": 1}, headers=tenant.headers
    )
    await client.delete(f"{CONTACTS}/{first['id']}", headers=tenant.headers)
    after_delete = await client.patch(
        path, json={"email": "ada@example.com", "version": 1}, headers=tenant.headers
    )

    assert clash.status_code == 409
    assert clash.json()["existing_id"] == first["id"]
    assert after_delete.status_code == 200
    assert after_delete.json()["email"] == "ada@example.com"


async def test_search_finds_name_email_and_phone_case_insensitively(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    ada = await add_contact(
        client, tenant.headers, first_name="Adaeze", last_name="Nwosu", email="ada@x.com"
    )
    bola = await add_contact(
        client, tenant.headers, first_name="Bola", email="b@ÉCOLE.example", phone="08031234567"
    )
    chidi = await add_contact(client, tenant.headers, first_name="Chidi", email="chidi%@y.com")

    async def found(q: str) -> list[str]:
        response = await client.get(CONTACTS, params={"q": q}, headers=tenant.headers)
        assert response.status_code == 200, response.text
        return [c["id"] for c in response.json()["items"]]

    assert await found("ADAEZE nw") == [ada["id"]]
    assert await found("école") == [bola["id"]]
    assert await found("0803 123") == [bola["id"]]
    assert await found("%") == [chidi["id"]]
    assert await found("_") == []


async def test_lists_filter_by_tag_owner_and_company_and_sort_by_name(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    member = await add_member(
        database, tenant, permissions=["crm.contact.read", "crm.contact.create"]
    )
    company = await client.post(COMPANIES, json={"name": "Ada Stores"}, headers=tenant.headers)
    company_id = company.json()["id"]
    zed = await add_contact(client, tenant.headers, first_name="Zed", tags=["VIP"])
    amy = await add_contact(
        client, tenant.headers, first_name="Amy", tags=["vip", "x"], company_id=company_id
    )
    mine = await add_contact(client, member.headers, first_name="Mo")

    async def ids(**params: Any) -> list[str]:
        response = await client.get(CONTACTS, params=params, headers=tenant.headers)
        assert response.status_code == 200, response.text
        return [c["id"] for c in response.json()["items"]]

    assert await ids(tag="Vip", sort="name") == [amy["id"], zed["id"]]
    assert await ids(tag="vi") == []
    assert await ids(owner=str(member.user_id)) == [mine["id"]]
    assert await ids(company=company_id) == [amy["id"]]
    assert await ids(sort="-name") == [zed["id"], mine["id"], amy["id"]]
    assert await ids() == [mine["id"], amy["id"], zed["id"]]
    assert await ids(sort="created") == [zed["id"], amy["id"], mine["id"]]


async def test_pages_follow_the_cursor_to_the_end(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    made = [(await add_contact(client, tenant.headers, first_name=f"P{i}"))["id"] for i in range(5)]

    seen: list[str] = []
    cursor = None
    for _ in range(3):
        params: dict[str, Any] = {"limit": 2, "sort": "name"}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get(CONTACTS, params=params, headers=tenant.headers)).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]

    assert seen == made
    assert cursor is None


async def test_without_record_all_one_sees_and_changes_only_ones_own(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    staff = await add_member(
        database,
        tenant,
        permissions=["crm.contact.read", "crm.contact.create", "crm.contact.update"],
    )
    theirs = await add_contact(client, tenant.headers, first_name="Owner's")
    mine = await add_contact(client, staff.headers, first_name="Staff's")

    listed = await client.get(CONTACTS, headers=staff.headers)
    read = await client.get(f"{CONTACTS}/{theirs['id']}", headers=staff.headers)
    changed = await client.patch(
        f"{CONTACTS}/{theirs['id']}", json={"job_title": "X", "version": 1}, headers=staff.headers
    )
    give_away = await client.patch(
        f"{CONTACTS}/{mine['id']}",
        json={"owner_id": str(tenant.owner.user_id), "version": 1},
        headers=staff.headers,
    )

    assert [c["id"] for c in listed.json()["items"]] == [mine["id"]]
    assert mine["owner_id"] == str(staff.user_id)
    assert (read.status_code, read.json()["code"]) == (404, "contact_not_found")
    assert changed.status_code == 404
    assert give_away.status_code == 422
    owner_view = await client.get(f"{CONTACTS}/{theirs['id']}", headers=tenant.headers)
    assert (owner_view.json()["job_title"], owner_view.json()["version"]) == (None, 1)


async def test_a_duplicate_names_the_existing_contact_only_to_who_may_open_it(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    staff = await add_member(
        database,
        tenant,
        permissions=["crm.contact.read", "crm.contact.create", "crm.contact.update"],
    )
    theirs = await add_contact(client, tenant.headers, email="ada@example.com")
    mine = await add_contact(client, staff.headers, email="bola@example.com")

    hidden = await client.post(
        CONTACTS, json={"first_name": "B", "email": "ada@example.com"}, headers=staff.headers
    )
    hidden_by_update = await client.patch(
        f"{CONTACTS}/{mine['id']}",
        json={"email": "ada@example.com", "version": 1},
        headers=staff.headers,
    )
    own = await client.post(
        CONTACTS, json={"first_name": "B", "email": "bola@example.com"}, headers=staff.headers
    )
    owners = await client.post(
        CONTACTS, json={"first_name": "B", "email": "bola@example.com"}, headers=tenant.headers
    )

    assert (hidden.status_code, hidden.json()["field"]) == (409, "email")
    assert "existing_id" not in hidden.json()
    assert theirs["id"] not in hidden.text
    assert hidden_by_update.status_code == 409
    assert "existing_id" not in hidden_by_update.json()
    assert own.json()["existing_id"] == mine["id"]
    assert owners.json()["existing_id"] == mine["id"]


async def test_an_owner_must_be_a_member_of_the_business(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    member = await add_member(database, tenant)
    stranger = (await make_tenant(database, modules=["crm"])).owner.user_id

    given = await add_contact(client, tenant.headers, owner_id=str(member.user_id))
    refused = await client.post(
        CONTACTS, json={"first_name": "X", "owner_id": str(stranger)}, headers=tenant.headers
    )

    assert given["owner_id"] == str(member.user_id)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "body.owner_id"


async def test_update_needs_the_current_version_and_clears_with_null(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    made = await add_contact(client, tenant.headers, email="a@example.com", job_title="Chef")
    path = f"{CONTACTS}/{made['id']}"

    no_version = await client.patch(path, json={"job_title": "Cook"}, headers=tenant.headers)
    stale = await client.patch(
        path, json={"job_title": "Cook", "version": 2}, headers=tenant.headers
    )
    no_name = await client.patch(
        path, json={"first_name": None, "version": 1}, headers=tenant.headers
    )
    changed = await client.patch(
        path,
        json={"email": None, "last_name": "Obi", "tags": ["New"]},
        headers={**tenant.headers, "If-Match": '"1"'},
    )
    found = await client.get(CONTACTS, params={"q": "chioma obi"}, headers=tenant.headers)

    assert no_version.status_code == 428
    assert stale.status_code == 412
    assert no_name.status_code == 422
    body = changed.json()
    assert (body["email"], body["last_name"], body["tags"], body["version"]) == (
        None,
        "Obi",
        ["new"],
        2,
    )
    assert [c["id"] for c in found.json()["items"]] == [made["id"]]
    async with database.transaction() as session:
        changes = await session.scalar(
            select(AuditEvent.changes).where(
                AuditEvent.target_id == made["id"], AuditEvent.action == "crm.contact.updated"
            )
        )
    assert changes == ["email", "last_name", "tags"]


async def test_a_contact_must_point_at_a_live_company(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)

    response = await client.post(
        CONTACTS, json={"first_name": "A", "company_id": str(uuid.uuid4())}, headers=tenant.headers
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.company_id"


async def test_a_deleted_contact_leaves_lists_and_lookups(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    made = await add_contact(client, tenant.headers)

    deleted = await client.delete(f"{CONTACTS}/{made['id']}", headers=tenant.headers)
    again = await client.delete(f"{CONTACTS}/{made['id']}", headers=tenant.headers)
    read = await client.get(f"{CONTACTS}/{made['id']}", headers=tenant.headers)
    listed = await client.get(CONTACTS, headers=tenant.headers)

    assert (deleted.status_code, again.status_code, read.status_code) == (204, 404, 404)
    assert listed.json()["items"] == []
    assert await actions_on(database, made["id"]) == ["crm.contact.created", "crm.contact.deleted"]


async def _references(database: Database, tenant: TenantFixture, contact_id: str) -> None:
    """A deal, an activity and a consent pointing at the contact."""
    target = uuid.UUID(contact_id)
    async with database.transaction(tenant_id=tenant.tenant_id) as session:
        await bind_tenant(session, tenant.tenant_id)
        pipeline = Pipeline(key=unique("p")[:40], name="Sales")
        session.add(pipeline)
        await session.flush()
        stage = Stage(pipeline_id=pipeline.id, key="new", name="New")
        session.add(stage)
        await session.flush()
        session.add(
            Deal(
                title="Big order",
                pipeline_id=pipeline.id,
                stage_id=stage.id,
                currency="NGN",
                contact_id=target,
            )
        )
        session.add(Activity(kind="call", subject="Called", contact_id=target))
        session.add(Consent(contact_id=target, channel="email", purpose="news", source="form"))


async def _pointing_at(database: Database, tenant: TenantFixture) -> dict[str, list[str]]:
    async with database.transaction(tenant_id=tenant.tenant_id) as session:
        await bind_tenant(session, tenant.tenant_id)
        return {
            name: [str(v) for v in await session.scalars(select(column))]
            for name, column in (
                ("deals", Deal.contact_id),
                ("activities", Activity.contact_id),
                ("consents", Consent.contact_id),
            )
        }


async def test_merge_moves_references_fills_gaps_and_retires_the_other(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    keep = await add_contact(client, tenant.headers, email="ada@example.com", tags=["vip"])
    other = await add_contact(
        client,
        tenant.headers,
        first_name="Ada",
        last_name="Obi",
        phone="08031234567",
        job_title="Chef",
        tags=["lagos", "VIP"],
    )
    await _references(database, tenant, other["id"])

    merged = await client.post(
        f"{CONTACTS}/{keep['id']}/merge", json={"from_id": other["id"]}, headers=tenant.headers
    )
    gone = await client.get(f"{CONTACTS}/{other['id']}", headers=tenant.headers)
    listed = await client.get(CONTACTS, headers=tenant.headers)
    reuse_phone = await client.post(
        CONTACTS, json={"first_name": "X", "phone": "08031234567"}, headers=tenant.headers
    )

    body = merged.json()
    assert merged.status_code == 200, merged.text
    assert (body["first_name"], body["last_name"], body["email"]) == (
        "Chioma",
        "Obi",
        "ada@example.com",
    )
    assert (body["phone"], body["job_title"], body["tags"]) == (
        "+2348031234567",
        "Chef",
        ["vip", "lagos"],
    )
    assert gone.status_code == 404
    assert (gone.json()["code"], gone.json()["merged_into"]) == ("contact_merged", keep["id"])
    assert [c["id"] for c in listed.json()["items"]] == [keep["id"]]
    assert await _pointing_at(database, tenant) == {
        "deals": [keep["id"]],
        "activities": [keep["id"]],
        "consents": [keep["id"]],
    }
    assert reuse_phone.json()["existing_id"] == keep["id"]
    assert await actions_on(database, keep["id"]) == ["crm.contact.created", "crm.contact.merged"]
    assert await actions_on(database, other["id"]) == [
        "crm.contact.created",
        "crm.contact.merged_into",
    ]


async def test_a_contact_cannot_be_merged_into_itself_or_from_one_out_of_reach(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    staff = await add_member(
        database,
        tenant,
        permissions=["crm.contact.read", "crm.contact.create", "crm.contact.update"],
    )
    mine = await add_contact(client, staff.headers)
    theirs = await add_contact(client, tenant.headers)

    itself = await client.post(
        f"{CONTACTS}/{mine['id']}/merge", json={"from_id": mine["id"]}, headers=staff.headers
    )
    out_of_reach = await client.post(
        f"{CONTACTS}/{mine['id']}/merge", json={"from_id": theirs["id"]}, headers=staff.headers
    )

    assert itself.status_code == 422
    assert out_of_reach.status_code == 404
    still = await client.get(f"{CONTACTS}/{theirs['id']}", headers=tenant.headers)
    assert still.status_code == 200


async def _list_counting_queries(
    client: httpx.AsyncClient, database: Database, tenant: TenantFixture
) -> tuple[int, int]:
    """(contacts listed, SQL statements run on either engine) for one list request."""
    with counting(database) as statements:
        response = await client.get(CONTACTS, params={"tag": "vip"}, headers=tenant.headers)
    return len(response.json()["items"]), len(statements)


async def test_contact_list_queries_do_not_grow_with_the_page(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    field = {"entity": "contact", "key": "allergies", "label": "A", "kind": "text"}
    await client.post(
        "/api/v1/crm/fields", json={**field, "sensitive": True}, headers=tenant.headers
    )
    await add_contact(client, tenant.headers, tags=["vip"], custom={"allergies": "nuts"})
    small = await _list_counting_queries(client, database, tenant)
    for _ in range(6):
        await add_contact(client, tenant.headers, tags=["vip"], custom={"allergies": "nuts"})

    large = await _list_counting_queries(client, database, tenant)

    assert (small[0], large[0]) == (1, 7)
    assert small[1] == large[1]


async def test_a_create_with_an_api_key_sends_three_statements_on_postgresql(
    client: httpx.AsyncClient, database: Database, engine_name: str
) -> None:
    """The key's lookup, the duplicate check, then the writes: on PostgreSQL the contact, its
    audit event and its outbox event go in one statement."""
    tenant = await crm_tenant(database)
    key = {"Authorization": f"Bearer {tenant.api_key}"}
    await client.post(CONTACTS, json={"first_name": "Warm"}, headers=key)  # last_used_at

    with counting(database) as statements:
        response = await client.post(
            CONTACTS,
            json={"first_name": "Ada", "email": f"{unique('ada')}@example.com"},
            headers=key,
        )

    assert response.status_code == 201
    shown = await client.get(f"{CONTACTS}/{response.json()['id']}", headers=key)
    assert shown.json() == response.json()
    kinds = [" ".join(s.split()[:3]) for s in statements]
    assert kinds[:2] == [
        "SELECT api_keys.id, api_keys.tenant_id,",
        "SELECT crm_contacts.id, crm_contacts.email_key,",
    ]
    if engine_name == "postgresql":
        assert len(statements) == 3 and statements[2].lstrip().startswith("WITH")
        assert all(
            f"INSERT INTO {t}" in statements[2]
            for t in ("crm_contacts", "audit_events", "outbox_events")
        )
    else:
        assert [s.split("(")[0].strip() for s in statements[2:]] == [
            "INSERT INTO crm_contacts",
            "INSERT INTO audit_events",
            "INSERT INTO outbox_events",
        ]
