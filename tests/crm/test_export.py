"""CSV export of the contacts, companies, deals and leads lists: streamed in batches read in
sessions of their own, with the list's filters and record-level access, formula cells quoted,
one audit event per export."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from nexus.core.audit import AuditEvent
from nexus.core.context import RequestContext
from nexus.core.db import Database, bind_tenant
from nexus.crm.service import exports
from tests.crm.dealkit import make_deal, make_pipeline, stage_ids
from tests.identity.factories import TenantFixture, add_member, make_tenant
from tests.statements import counting

CRM = "/api/v1/crm"


def rows_of(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


async def post(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], headers: dict[str, str]
) -> dict[str, Any]:
    response = await client.post(f"{CRM}/{path}", json=body, headers=headers)
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made


async def exports_audited(database: Database, tenant: TenantFixture) -> list[tuple[str, list[str]]]:
    async with database.transaction() as session:
        found = await session.execute(
            select(AuditEvent.action, AuditEvent.changes)
            .where(AuditEvent.tenant_id == tenant.tenant_id, AuditEvent.action.like("%.exported"))
            .order_by(AuditEvent.occurred_at)
        )
        return [(action, list(changes)) for action, changes in found]


async def test_companies_export_with_filters_access_and_formula_cells(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database, modules=["crm"])
    await post(client, "companies", {"name": "Acme", "tags": ["vip"]}, tenant.headers)
    await post(client, "companies", {"name": "=HYPERLINK()", "industry": "@x"}, tenant.headers)
    staff = await add_member(
        database, tenant, permissions=["crm.data.export", "crm.company.read", "crm.company.create"]
    )
    await post(client, "companies", {"name": "Staff Ltd"}, staff.headers)

    vip = rows_of(
        await client.get(
            f"{CRM}/companies/export.csv", params={"tag": "vip"}, headers=tenant.headers
        )
    )
    everything = rows_of(await client.get(f"{CRM}/companies/export.csv", headers=tenant.headers))
    own = rows_of(await client.get(f"{CRM}/companies/export.csv", headers=staff.headers))

    assert [(r["name"], r["tags"]) for r in vip] == [("Acme", "vip")]
    assert [r["name"] for r in everything] == ["Acme", "'=HYPERLINK()", "Staff Ltd"]
    assert everything[1]["industry"] == "'@x"
    assert [r["name"] for r in own] == ["Staff Ltd"]
    assert await exports_audited(database, tenant) == [
        ("crm.companies.exported", ["tag"]),
        ("crm.companies.exported", []),
        ("crm.companies.exported", []),
    ]


async def test_deals_export_follows_the_deal_list_filters(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database, modules=["crm"])
    pipeline = await make_pipeline(client, tenant)
    stages = stage_ids(pipeline)
    first = await make_deal(
        client, tenant.headers, 250000, pipeline_id=pipeline["id"], title="-Catering"
    )
    await make_deal(
        client,
        tenant.headers,
        100,
        pipeline_id=pipeline["id"],
        stage_id=stages["won"],
        title="Wedding",
    )

    open_deals = rows_of(
        await client.get(
            f"{CRM}/deals/export.csv",
            params={"status": "open", "pipeline_id": pipeline["id"]},
            headers=tenant.headers,
        )
    )

    assert [(r["id"], r["title"], r["amount_minor"], r["currency"]) for r in open_deals] == [
        (first["id"], "'-Catering", "250000", "NGN")
    ]
    assert open_deals[0]["stage_id"] == stages["qualified"]
    assert await exports_audited(database, tenant) == [
        ("crm.deals.exported", ["pipeline_id", "status"])
    ]


async def test_leads_export_follows_the_lead_list_and_record_level_access(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database, modules=["crm"])
    await post(client, "leads", {"name": "Ada Obi", "email": "ada@example.com"}, tenant.headers)
    await post(client, "leads", {"name": "+Bola", "company_name": "Acme"}, tenant.headers)
    staff = await add_member(database, tenant, permissions=["crm.data.export", "crm.lead.read"])

    found = rows_of(
        await client.get(f"{CRM}/leads/export.csv", params={"q": "ADA"}, headers=tenant.headers)
    )
    everything = rows_of(await client.get(f"{CRM}/leads/export.csv", headers=tenant.headers))
    none = rows_of(await client.get(f"{CRM}/leads/export.csv", headers=staff.headers))

    assert [(r["name"], r["email"], r["status"]) for r in found] == [
        ("Ada Obi", "ada@example.com", "new")
    ]
    assert [r["name"] for r in everything] == ["Ada Obi", "'+Bola"]
    assert none == []


async def test_export_is_read_in_batches_each_in_a_session_of_its_own(
    client: httpx.AsyncClient, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exports, "CHUNK", 2)
    tenant = await make_tenant(database, modules=["crm"])
    for index in range(5):
        await post(client, "contacts", {"first_name": f"Person {index}"}, tenant.headers)

    with counting(database) as statements:
        response = await client.get(f"{CRM}/contacts/export.csv", headers=tenant.headers)

    assert [r["first_name"] for r in rows_of(response)] == [f"Person {i}" for i in range(5)]
    reads = [s for s in statements if "FROM crm_contacts" in s and "LIMIT" in s]
    assert len(reads) == 3  # 2 + 2 + 1 rows, never the whole list at once


async def test_a_stream_sees_no_record_created_after_it_started_and_none_twice(
    client: httpx.AsyncClient, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exports, "CHUNK", 2)
    tenant = await make_tenant(database, modules=["crm"])
    for index in range(4):
        await post(client, "contacts", {"first_name": f"Person {index}"}, tenant.headers)
    ctx = RequestContext(
        tenant_id=tenant.tenant_id,
        actor_type="user",
        actor_id=tenant.owner.user_id,
        user_id=tenant.owner.user_id,
        permissions=frozenset({"crm.*"}),
    )
    async with database.transaction(tenant.tenant_id) as session:
        await bind_tenant(session, tenant.tenant_id)
        statement = exports.contacts_statement(
            session, ctx, q=None, tag=None, owner=None, company=None
        )
        export = await exports.start_export(session, ctx, "contact", statement, filters={})

    chunks = exports.stream_export(export)
    text = await anext(chunks) + await anext(chunks)  # the header and the first batch
    await post(client, "contacts", {"first_name": "Latecomer"}, tenant.headers)
    async for chunk in chunks:
        text += chunk

    names = [r["first_name"] for r in csv.DictReader(io.StringIO(text))]
    assert names == ["Person 0", "Person 1", "Person 2", "Person 3"]


async def test_sensitive_columns_are_exported_only_to_those_allowed_and_audited(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database, modules=["crm"])
    field = {"entity": "company", "key": "bank", "label": "Bank", "kind": "text"}
    await post(client, "fields", field | {"sensitive": True}, tenant.headers)
    made = await post(
        client, "companies", {"name": "Acme", "custom": {"bank": "x1"}}, tenant.headers
    )
    staff = await add_member(
        database, tenant, permissions=["crm.data.export", "crm.company.read", "crm.record.all"]
    )

    shown = rows_of(await client.get(f"{CRM}/companies/export.csv", headers=tenant.headers))
    hidden = rows_of(await client.get(f"{CRM}/companies/export.csv", headers=staff.headers))

    assert shown[0]["custom.bank"] == "x1"
    assert "custom.bank" not in hidden[0]
    async with database.transaction() as session:
        reads = await session.scalars(
            select(AuditEvent.target_id).where(
                AuditEvent.tenant_id == tenant.tenant_id,
                AuditEvent.action == "crm.company.sensitive_read",
            )
        )
        assert made["id"] in list(reads)
