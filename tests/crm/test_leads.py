"""Leads: creation, listing with search and status, versioned changes, record-level access,
and conversion into a contact, a company and a deal (reusing what matches)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from nexus.core.audit import AuditEvent
from nexus.core.context import RequestContext
from nexus.core.db import Database, bind_tenant
from nexus.core.events import OutboxEvent
from nexus.core.types import utcnow
from nexus.crm.errors import DuplicateContact
from nexus.crm.models import Company, Contact, Deal, Pipeline, Stage
from nexus.crm.service import records
from tests.identity.factories import TenantFixture, add_member, make_tenant, unique
from tests.statements import counting

LEADS = "/api/v1/crm/leads"


async def crm_tenant(database: Database) -> TenantFixture:
    return await make_tenant(database, modules=["crm"])


async def add_lead(
    client: httpx.AsyncClient, headers: dict[str, str], **fields: Any
) -> dict[str, Any]:
    body = {"name": "Chidi Okafor", **fields}
    response = await client.post(LEADS, json=body, headers=headers)
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made


async def convert(
    client: httpx.AsyncClient, headers: dict[str, str], lead_id: str, body: dict[str, Any]
) -> httpx.Response:
    return await client.post(f"{LEADS}/{lead_id}/convert", json=body, headers=headers)


async def insert(database: Database, tenant: TenantFixture, row: Any) -> uuid.UUID:
    async with database.transaction(tenant_id=tenant.tenant_id) as session:
        await bind_tenant(session, tenant.tenant_id)
        session.add(row)
        await session.flush()
        made: uuid.UUID = row.id
    return made


async def count(database: Database, tenant: TenantFixture, model: Any) -> int:
    async with database.transaction(tenant_id=tenant.tenant_id) as session:
        await bind_tenant(session, tenant.tenant_id)
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_lead_is_created_with_normalised_email_and_phone(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)

    lead = await add_lead(
        client,
        tenant.headers,
        email="Chidi@Okafor-Foods.NG",
        phone="0803 123 4567",
        company_name="Okafor Foods",
        source="website",
    )

    assert lead["email"] == "Chidi@okafor-foods.ng"
    assert lead["phone"] == "+2348031234567"
    assert (lead["status"], lead["version"]) == ("new", 1)
    assert lead["owner_id"] == str(tenant.owner.user_id)
    assert lead["converted_contact_id"] is None
    got = await client.get(f"{LEADS}/{lead['id']}", headers=tenant.headers)
    assert got.status_code == 200 and got.json() == lead


async def test_a_bad_phone_is_a_422_naming_it_and_nothing_is_created(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)

    response = await client.post(
        LEADS, json={"name": "Chidi", "phone": "12"}, headers=tenant.headers
    )

    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["body.phone"]
    listed = await client.get(LEADS, headers=tenant.headers)
    assert listed.json()["items"] == []


async def test_leads_are_searched_and_filtered_by_status(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    chidi = await add_lead(client, tenant.headers, email="chidi@example.com")
    await add_lead(client, tenant.headers, name="Bola Ade", status="qualified")
    await add_lead(client, tenant.headers, name="Bola Tinubu", phone="08031234567")

    by_name = await client.get(LEADS, params={"q": "BOLA"}, headers=tenant.headers)
    by_email = await client.get(LEADS, params={"q": "chidi@EX"}, headers=tenant.headers)
    by_phone = await client.get(LEADS, params={"q": "0803 123"}, headers=tenant.headers)
    qualified = await client.get(LEADS, params={"status": "qualified"}, headers=tenant.headers)

    assert [i["name"] for i in by_name.json()["items"]] == ["Bola Tinubu", "Bola Ade"]
    assert [i["id"] for i in by_email.json()["items"]] == [chidi["id"]]
    assert [i["name"] for i in by_phone.json()["items"]] == ["Bola Tinubu"]
    assert [i["name"] for i in qualified.json()["items"]] == ["Bola Ade"]


async def test_the_list_pages_with_a_cursor(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await crm_tenant(database)
    made = [(await add_lead(client, tenant.headers, name=f"Lead {n}"))["id"] for n in range(3)]

    first = await client.get(LEADS, params={"limit": 2}, headers=tenant.headers)
    cursor = first.json()["next_cursor"]
    second = await client.get(LEADS, params={"limit": 2, "cursor": cursor}, headers=tenant.headers)

    seen = [i["id"] for i in first.json()["items"] + second.json()["items"]]
    assert seen == list(reversed(made))
    assert second.json()["next_cursor"] is None


async def test_a_lead_changes_with_its_version_and_a_stale_one_is_412(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    lead = await add_lead(client, tenant.headers)
    url = f"{LEADS}/{lead['id']}"

    changed = await client.patch(
        url, json={"status": "contacted", "notes": "Called", "version": 1}, headers=tenant.headers
    )
    stale = await client.patch(url, json={"name": "X", "version": 1}, headers=tenant.headers)

    assert changed.status_code == 200, changed.text
    assert (changed.json()["status"], changed.json()["version"]) == ("contacted", 2)
    assert stale.status_code == 412
    assert (await client.get(url, headers=tenant.headers)).json()["name"] == "Chidi Okafor"


async def test_status_cannot_be_set_to_converted_by_hand(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    lead = await add_lead(client, tenant.headers)

    response = await client.patch(
        f"{LEADS}/{lead['id']}", json={"status": "converted", "version": 1}, headers=tenant.headers
    )

    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["body.status"]


async def test_staff_see_only_their_own_leads(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    staff = await add_member(database, tenant, permissions=["crm.lead.read", "crm.lead.create"])
    theirs = await add_lead(client, tenant.headers)
    mine = await add_lead(client, staff.headers, name="Mine")

    listed = await client.get(LEADS, headers=staff.headers)
    other = await client.get(f"{LEADS}/{theirs['id']}", headers=staff.headers)

    assert [i["id"] for i in listed.json()["items"]] == [mine["id"]]
    assert other.status_code == 404


async def test_converting_makes_a_contact_company_and_deal_in_the_default_pipeline(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    lead = await add_lead(
        client,
        tenant.headers,
        email="chidi@okafor.ng",
        phone="08031234567",
        company_name="Okafor Foods",
    )

    response = await convert(
        client,
        tenant.headers,
        lead["id"],
        {"deal": {"title": "Office catering", "amount": {"amount_minor": 5_000_000}}},
    )

    assert response.status_code == 200, response.text
    made = response.json()
    assert (made["contact_created"], made["company_created"]) == (True, True)
    assert made["lead"]["status"] == "converted"
    assert made["lead"]["converted_contact_id"] == made["contact_id"]
    assert made["lead"]["converted_company_id"] == made["company_id"]
    assert made["lead"]["converted_deal_id"] == made["deal_id"]
    async with database.transaction(tenant_id=tenant.tenant_id) as session:
        await bind_tenant(session, tenant.tenant_id)
        contact = await session.get_one(Contact, (tenant.tenant_id, uuid.UUID(made["contact_id"])))
        deal = await session.get_one(Deal, (tenant.tenant_id, uuid.UUID(made["deal_id"])))
        stage = await session.get_one(Stage, (tenant.tenant_id, deal.stage_id))
        pipeline = await session.get_one(Pipeline, (tenant.tenant_id, deal.pipeline_id))
        events = await session.scalars(
            select(OutboxEvent.type).where(
                OutboxEvent.payload["contact_id"].as_string() == made["contact_id"]
            )
        )
        event_types = list(events)
    assert (contact.first_name, contact.last_name) == ("Chidi", "Okafor")
    assert (contact.email, contact.phone) == ("chidi@okafor.ng", "+2348031234567")
    assert contact.company_id == uuid.UUID(made["company_id"])
    assert (deal.title, deal.amount_minor, deal.currency) == ("Office catering", 5_000_000, "NGN")
    assert (deal.contact_id, deal.company_id) == (contact.id, contact.company_id)
    assert (pipeline.key, pipeline.is_default, stage.key) == ("sales", True, "lead")
    assert event_types == ["crm.contact.created"]


async def test_converting_twice_is_a_409_and_creates_nothing_more(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    lead = await add_lead(client, tenant.headers, company_name="Okafor Foods")
    first = await convert(client, tenant.headers, lead["id"], {})

    again = await convert(client, tenant.headers, lead["id"], {"deal": {"title": "More"}})

    assert first.status_code == 200
    assert again.status_code == 409
    assert again.json()["code"] == "lead_already_converted"
    assert again.json()["contact_id"] == first.json()["contact_id"]
    assert (await count(database, tenant, Contact), await count(database, tenant, Company)) == (
        1,
        1,
    )
    assert await count(database, tenant, Deal) == 0


async def test_a_live_contact_with_the_email_is_reused_case_insensitively(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    existing = await insert(
        database,
        tenant,
        Contact(
            first_name="Chidi",
            search_name="chidi",
            email="chidi@okafor.ng",
            email_key="chidi@okafor.ng",
        ),
    )
    lead = await add_lead(client, tenant.headers, email="CHIDI@okafor.ng", company_name="Okafor")

    made = (await convert(client, tenant.headers, lead["id"], {})).json()

    assert (made["contact_id"], made["contact_created"]) == (str(existing), False)
    assert made["company_created"] is True
    assert await count(database, tenant, Contact) == 1
    async with database.transaction(tenant_id=tenant.tenant_id) as session:
        await bind_tenant(session, tenant.tenant_id)
        contact = await session.get_one(Contact, (tenant.tenant_id, existing))
        published = await session.scalar(
            select(func.count())
            .select_from(OutboxEvent)
            .where(
                OutboxEvent.tenant_id == tenant.tenant_id,
                OutboxEvent.type == "crm.contact.created",
            )
        )
    assert contact.company_id == uuid.UUID(made["company_id"])
    assert published == 0


async def test_a_live_contact_with_the_phone_is_reused_but_not_a_deleted_one(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    await insert(
        database,
        tenant,
        Contact(first_name="Gone", search_name="gone", phone="+2348031234567", deleted_at=utcnow()),
    )
    live = await insert(
        database, tenant, Contact(first_name="Chidi", search_name="chidi", phone="+2348031234567")
    )
    lead = await add_lead(client, tenant.headers, phone="0803 123 4567")

    made = (await convert(client, tenant.headers, lead["id"], {})).json()

    assert (made["contact_id"], made["contact_created"]) == (str(live), False)
    assert (made["company_id"], made["company_created"]) == (None, False)


async def test_a_live_company_of_the_same_name_is_reused_case_insensitively(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    company = await insert(
        database, tenant, Company(name="Okafor Foods", search_name="okafor foods")
    )
    lead = await add_lead(client, tenant.headers, company_name="  OKAFOR   foods ")

    made = (await convert(client, tenant.headers, lead["id"], {})).json()

    assert (made["company_id"], made["company_created"]) == (str(company), False)
    assert made["contact_created"] is True
    assert await count(database, tenant, Company) == 1


async def test_a_deal_goes_to_the_named_pipelines_first_open_stage(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    pipeline = await insert(database, tenant, Pipeline(key="wholesale", name="Wholesale"))
    for position, (key, kind) in enumerate((("won", "won"), ("quote", "open"), ("x", "lost"))):
        await insert(
            database,
            tenant,
            Stage(pipeline_id=pipeline, key=key, name=key, position=position, kind=kind),
        )
    lead = await add_lead(client, tenant.headers)

    made = await convert(
        client,
        tenant.headers,
        lead["id"],
        {
            "deal": {
                "title": "Bulk",
                "pipeline_id": str(pipeline),
                "amount": {"amount_minor": 7, "currency": "USD"},
            }
        },
    )

    assert made.status_code == 200, made.text
    async with database.transaction(tenant_id=tenant.tenant_id) as session:
        await bind_tenant(session, tenant.tenant_id)
        deal = await session.get_one(Deal, (tenant.tenant_id, uuid.UUID(made.json()["deal_id"])))
        stage = await session.get_one(Stage, (tenant.tenant_id, deal.stage_id))
    assert (deal.pipeline_id, stage.key, deal.currency) == (pipeline, "quote", "USD")


async def test_an_unknown_pipeline_is_a_422_and_nothing_is_converted(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    lead = await add_lead(client, tenant.headers, company_name="Okafor")

    response = await convert(
        client,
        tenant.headers,
        lead["id"],
        {"deal": {"title": "X", "pipeline_id": str(uuid.uuid4())}},
    )

    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["body.deal.pipeline_id"]
    assert (await count(database, tenant, Contact), await count(database, tenant, Company)) == (
        0,
        0,
    )
    got = await client.get(f"{LEADS}/{lead['id']}", headers=tenant.headers)
    assert got.json()["status"] == "new"


async def test_conversion_is_audited(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await crm_tenant(database)
    lead = await add_lead(client, tenant.headers, email=f"{unique('c')}@example.com")

    await convert(client, tenant.headers, lead["id"], {})

    async with database.transaction() as session:
        actions = list(
            await session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.target_id == lead["id"])
                .order_by(AuditEvent.occurred_at, AuditEvent.id)
            )
        )
    assert actions == ["crm.lead.created", "crm.lead.converted"]


async def _list_counting_queries(
    client: httpx.AsyncClient, database: Database, tenant: TenantFixture
) -> tuple[int, int]:
    with counting(database) as statements:
        response = await client.get(LEADS, params={"q": "chidi"}, headers=tenant.headers)
    return len(response.json()["items"]), len(statements)


async def test_lead_list_queries_do_not_grow_with_the_page(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    await add_lead(client, tenant.headers)
    small = await _list_counting_queries(client, database, tenant)
    for _ in range(6):
        await add_lead(client, tenant.headers)

    large = await _list_counting_queries(client, database, tenant)

    assert (small[0], large[0]) == (1, 7)
    assert small[1] == large[1]


async def test_conversion_makes_the_contact_through_the_contacts_rules(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    for entity, field in (
        ("contact", {"key": "budget", "label": "Budget", "kind": "number", "required": True}),
        ("lead", {"key": "budget", "label": "Budget", "kind": "number"}),
        ("company", {"key": "sector", "label": "Sector", "kind": "text", "required": True}),
    ):
        made = await client.post(
            "/api/v1/crm/fields", json={"entity": entity} | field, headers=tenant.headers
        )
        assert made.status_code == 201, made.text
    without = await add_lead(client, tenant.headers, name="No Budget")
    with_budget = await add_lead(
        client, tenant.headers, name="Ada  Obi", email="Ada@Example.com", custom={"budget": 5}
    )
    with_company = await add_lead(
        client, tenant.headers, name="Bola", custom={"budget": 1}, company_name="Zenith"
    )

    refused = await convert(client, tenant.headers, without["id"], {})
    converted = await convert(client, tenant.headers, with_budget["id"], {})
    no_sector = await convert(client, tenant.headers, with_company["id"], {})

    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["field"] == "lead.custom.budget"
    assert no_sector.status_code == 422, no_sector.text
    assert no_sector.json()["errors"][0]["field"] == "lead.company.custom.sector"
    assert converted.status_code == 200, converted.text
    contact_id = converted.json()["contact_id"]
    contact = (
        await client.get(f"/api/v1/crm/contacts/{contact_id}", headers=tenant.headers)
    ).json()
    assert (contact["first_name"], contact["last_name"], contact["email"]) == (
        "Ada",
        "Obi",
        "Ada@example.com",
    )
    assert (contact["custom"], contact["source"]) == ({"budget": 5}, "lead")
    async with database.transaction() as session:
        created = await session.scalar(
            select(func.count())
            .select_from(OutboxEvent)
            .where(
                OutboxEvent.tenant_id == tenant.tenant_id,
                OutboxEvent.type == "crm.contact.created",
            )
        )
        audited = await session.scalar(
            select(AuditEvent.changes).where(
                AuditEvent.action == "crm.contact.created", AuditEvent.target_id == contact_id
            )
        )
    assert created == 1
    assert audited is not None and {"first_name", "email", "custom"} <= set(audited)


async def test_a_duplicate_names_the_existing_record_only_to_those_who_may_open_it(
    client: httpx.AsyncClient, database: Database
) -> None:
    """The duplicate rule shared by contacts, companies and conversion (service/records.py)."""
    tenant = await crm_tenant(database)
    staff = await add_member(database, tenant, permissions=["crm.contact.create"])
    theirs = await client.post(
        "/api/v1/crm/contacts",
        json={"first_name": "Ada", "email": "ada@example.com"},
        headers=tenant.headers,
    )
    mine = await client.post(
        "/api/v1/crm/contacts",
        json={"first_name": "Bola", "phone": "+2348031234567"},
        headers=staff.headers,
    )
    assert (theirs.status_code, mine.status_code) == (201, 201)

    def ctx_of(user_id: uuid.UUID, *permissions: str) -> RequestContext:
        return RequestContext(
            tenant_id=tenant.tenant_id,
            actor_type="user",
            actor_id=user_id,
            user_id=user_id,
            permissions=frozenset(permissions),
        )

    async def refusal(ctx: RequestContext, **keys: Any) -> DuplicateContact:
        async with database.transaction(tenant.tenant_id) as session:
            with pytest.raises(DuplicateContact) as refused:
                await records.check_duplicates(
                    session,
                    Contact,
                    DuplicateContact,
                    email_key=keys.get("email_key"),
                    phone=keys.get("phone"),
                    ctx=ctx,
                )
        return refused.value

    staff_ctx = ctx_of(staff.user_id, "crm.contact.create")
    hidden = await refusal(staff_ctx, email_key="ada@example.com")
    own = await refusal(staff_ctx, phone="+2348031234567")
    seen = await refusal(ctx_of(staff.user_id, "crm.record.all"), email_key="ada@example.com")

    assert hidden.extra == {"field": "email"}
    assert theirs.json()["id"] not in hidden.errors[0].reason
    assert own.extra == {"field": "phone", "existing_id": mine.json()["id"]}
    assert seen.extra == {"field": "email", "existing_id": theirs.json()["id"]}
