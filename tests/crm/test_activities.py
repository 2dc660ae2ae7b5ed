"""Activities: kinds, links, assignees, done state, "my open tasks", access, and a contact's
timeline."""

from __future__ import annotations

from typing import Any

import httpx

from nexus.core.db import Database, bind_tenant
from nexus.crm.models import ActivityType
from tests.crm.dealkit import (
    ACTIVITIES,
    created,
    crm_tenant,
    make_contact,
    make_deal,
    make_pipeline,
    new_id,
)
from tests.identity.factories import Person, TenantFixture, add_member
from tests.statements import counting

ACTIVITY_PERMISSIONS = ["crm.activity.read", "crm.activity.create", "crm.activity.update"]


async def log(client: httpx.AsyncClient, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    body = {"kind": "task", "subject": "Follow up"} | fields
    return created(await client.post(ACTIVITIES, json=body, headers=headers))


async def add_kind(database: Database, tenant: TenantFixture, key: str) -> None:
    async with database.transaction(tenant_id=tenant.tenant_id) as session:
        await bind_tenant(session, tenant.tenant_id)
        session.add(ActivityType(key=key, name=key.title()))


async def staff(database: Database, tenant: TenantFixture) -> Person:
    return await add_member(database, tenant, permissions=ACTIVITY_PERMISSIONS)


async def test_an_activity_is_assigned_to_its_creator(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    contact_id = await make_contact(database, tenant)

    activity = await log(
        client, tenant.headers, kind="call", contact_id=contact_id, due_at="2026-12-01T09:00:00Z"
    )

    assert (activity["kind"], activity["contact_id"], activity["company_id"]) == (
        "call",
        contact_id,
        None,
    )
    owner = str(tenant.owner.user_id)
    assert (activity["assignee_id"], activity["created_by"]) == (owner, owner)
    assert (activity["is_done"], activity["done_at"]) == (False, None)
    assert activity["due_at"] == "2026-12-01T09:00:00Z"


async def test_a_personal_task_has_no_link(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await crm_tenant(database)

    activity = await log(client, tenant.headers, subject="Renew the shop licence")

    assert (activity["contact_id"], activity["company_id"], activity["deal_id"]) == (
        None,
        None,
        None,
    )


async def test_kinds_are_the_built_in_ones_and_the_business_own(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    other = await crm_tenant(database)
    await add_kind(database, tenant, "consultation")

    own = await client.post(
        ACTIVITIES, json={"kind": "consultation", "subject": "Check-up"}, headers=tenant.headers
    )
    foreign = await client.post(
        ACTIVITIES, json={"kind": "consultation", "subject": "Check-up"}, headers=other.headers
    )

    assert own.status_code == 201
    assert foreign.status_code == 422
    assert foreign.json()["errors"][0]["field"] == "body.kind"
    assert (await client.get(ACTIVITIES, headers=other.headers)).json()["items"] == []


async def test_links_and_assignees_must_exist(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    fields = []
    for link in ("contact_id", "company_id", "deal_id", "assignee_id"):
        response = await client.post(
            ACTIVITIES,
            json={"kind": "task", "subject": "X", link: new_id()},
            headers=tenant.headers,
        )
        assert response.status_code == 422
        fields.append(response.json()["errors"][0]["field"])

    assert fields == ["body.contact_id", "body.company_id", "body.deal_id", "body.assignee_id"]
    assert (await client.get(ACTIVITIES, headers=tenant.headers)).json()["items"] == []


async def test_done_stamps_the_time_and_undone_clears_it(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    activity = await log(client, tenant.headers)
    url = f"{ACTIVITIES}/{activity['id']}"

    done = await client.patch(url, json={"done": True, "version": 1}, headers=tenant.headers)
    again = await client.patch(url, json={"done": True, "version": 2}, headers=tenant.headers)
    undone = await client.patch(url, json={"done": False, "version": 2}, headers=tenant.headers)

    assert (done.json()["is_done"], done.json()["version"]) == (True, 2)
    assert done.json()["done_at"] is not None
    assert again.json() == done.json()
    assert (undone.json()["is_done"], undone.json()["done_at"], undone.json()["version"]) == (
        False,
        None,
        3,
    )


async def test_my_open_tasks_are_mine_and_open_soonest_first(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    member = await staff(database, tenant)
    h = tenant.headers
    later = await log(client, h, subject="later", due_at="2026-12-03T09:00:00Z")
    undated = await log(client, h, subject="undated")
    soon = await log(client, h, subject="soon", due_at="2026-12-01T09:00:00Z")
    finished = await log(client, h, subject="done", due_at="2026-11-01T09:00:00Z", done=True)
    await log(client, member.headers, subject="theirs", due_at="2026-11-01T09:00:00Z")
    await log(client, h, subject="given", assignee_id=str(member.user_id))

    subjects: list[str] = []
    cursor = ""
    while True:
        page = await client.get(f"{ACTIVITIES}/mine?limit=2{cursor}", headers=h)
        subjects += [a["subject"] for a in page.json()["items"]]
        if page.json()["next_cursor"] is None:
            break
        cursor = f"&cursor={page.json()['next_cursor']}"

    assert subjects == [soon["subject"], later["subject"], undated["subject"]]
    assert finished["is_done"] is True


async def test_staff_see_the_activities_they_are_assigned_or_created(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    member = await staff(database, tenant)
    given = await log(client, tenant.headers, subject="given", assignee_id=str(member.user_id))
    made = await log(client, member.headers, subject="made")
    hidden = await log(client, tenant.headers, subject="hidden")

    listed = await client.get(ACTIVITIES, headers=member.headers)
    get = await client.get(f"{ACTIVITIES}/{hidden['id']}", headers=member.headers)
    change = await client.patch(
        f"{ACTIVITIES}/{hidden['id']}", json={"done": True, "version": 1}, headers=member.headers
    )

    assert [a["id"] for a in listed.json()["items"]] == [made["id"], given["id"]]
    assert (get.status_code, change.status_code) == (404, 404)
    assert get.json()["code"] == "activity_not_found"


async def test_activities_are_filtered(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await crm_tenant(database)
    await make_pipeline(client, tenant)
    deal = await make_deal(client, tenant.headers, 100)
    contact_id = await make_contact(database, tenant)
    h = tenant.headers
    on_deal = await log(client, h, deal_id=deal["id"], due_at="2026-12-01T09:00:00Z")
    on_contact = await log(client, h, contact_id=contact_id, done=True)
    late = await log(client, h, due_at="2026-10-01T09:00:00Z")

    async def ids(query: str) -> list[str]:
        response = await client.get(f"{ACTIVITIES}?{query}", headers=h)
        assert response.status_code == 200, response.text
        return [a["id"] for a in response.json()["items"]]

    assert await ids(f"deal_id={deal['id']}") == [on_deal["id"]]
    assert await ids(f"contact_id={contact_id}") == [on_contact["id"]]
    assert await ids("state=done") == [on_contact["id"]]
    assert await ids("state=open") == [late["id"], on_deal["id"]]
    assert await ids("due_before=2026-11-01T00:00:00Z") == [late["id"]]
    assert await ids(f"assignee_id={tenant.owner.user_id}") == [
        late["id"],
        on_contact["id"],
        on_deal["id"],
    ]


async def test_the_timeline_merges_activities_and_audit_newest_first(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    contact_id = await make_contact(database, tenant)
    other_contact = await make_contact(database, tenant)
    first = await log(client, tenant.headers, subject="first", contact_id=contact_id)
    await log(client, tenant.headers, subject="elsewhere", contact_id=other_contact)
    second = await log(client, tenant.headers, subject="second", contact_id=contact_id)
    url = f"/api/v1/crm/contacts/{contact_id}/timeline"

    entries: list[tuple[str, str]] = []
    cursor = ""
    while True:
        page = await client.get(f"{url}?limit=2{cursor}", headers=tenant.headers)
        assert page.status_code == 200, page.text
        for entry in page.json()["items"]:
            label = entry["activity"]["id"] if entry["activity"] else entry["audit"]["action"]
            entries.append((entry["kind"], label))
        if page.json()["next_cursor"] is None:
            break
        cursor = f"&cursor={page.json()['next_cursor']}"

    assert entries == [
        ("activity", second["id"]),
        ("activity", first["id"]),
        ("audit", "crm.contact.created"),
    ]


async def test_the_timeline_of_an_unknown_contact_is_404(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    other = await crm_tenant(database)
    foreign = await make_contact(database, other)

    response = await client.get(f"/api/v1/crm/contacts/{foreign}/timeline", headers=tenant.headers)

    assert response.status_code == 404
    assert response.json()["code"] == "contact_not_found"


async def test_list_queries_do_not_grow_with_the_page(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    contact_id = await make_contact(database, tenant)
    await log(client, tenant.headers, contact_id=contact_id)
    urls = [ACTIVITIES, f"{ACTIVITIES}/mine", f"/api/v1/crm/contacts/{contact_id}/timeline"]
    small = []
    for url in urls:
        with counting(database) as statements:
            await client.get(url, headers=tenant.headers)
        small.append(len(statements))
    for _ in range(5):
        await log(client, tenant.headers, contact_id=contact_id)

    large = []
    for url in urls:
        with counting(database) as statements:
            response = await client.get(url, headers=tenant.headers)
        large.append(len(statements))
        assert len(response.json()["items"]) >= 6

    assert small == large


async def test_the_timeline_shows_what_the_contacts_api_recorded(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    made = await client.post(
        "/api/v1/crm/contacts", json={"first_name": "Ngozi"}, headers=tenant.headers
    )
    contact = created(made)
    await client.patch(
        f"/api/v1/crm/contacts/{contact['id']}",
        json={"last_name": "Eze", "version": 1},
        headers=tenant.headers,
    )
    note = await log(client, tenant.headers, kind="note", contact_id=contact["id"])

    page = await client.get(
        f"/api/v1/crm/contacts/{contact['id']}/timeline", headers=tenant.headers
    )

    kinds = [(e["kind"], (e["audit"] or {}).get("action")) for e in page.json()["items"]]
    assert kinds == [
        ("activity", None),
        ("audit", "crm.contact.updated"),
        ("audit", "crm.contact.created"),
    ]
    assert page.json()["items"][0]["activity"]["id"] == note["id"]
