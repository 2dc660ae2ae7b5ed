"""CSV import of contacts (validated whole before any write, written set-based by a job, one
summary event) and CSV export (filters, record-level access, sensitive columns)."""

from __future__ import annotations

import csv
import io
import sqlite3
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from nexus.core.db import Database
from nexus.core.events import OutboxEvent
from nexus.core.worker import Worker
from nexus.crm.models import Company, Contact
from nexus.crm.service import imports
from tests.identity.factories import TenantFixture, add_member, make_tenant
from tests.statements import counting

IMPORTS = "/api/v1/crm/imports"
EXPORT = "/api/v1/crm/contacts/export.csv"


async def upload(
    client: httpx.AsyncClient, tenant: TenantFixture, text: str, *, only_valid: bool = False
) -> dict[str, Any]:
    response = await client.post(
        IMPORTS,
        files={"file": ("people.csv", text.encode(), "text/csv")},
        data={"only_valid": "true" if only_valid else "false"},
        headers=tenant.headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def contact_count(database: Database, tenant: TenantFixture) -> int:
    async with database.transaction(tenant.tenant_id) as session:
        return int(await session.scalar(select(func.count()).select_from(Contact)) or 0)


BAD_FILE = (
    "first_name,last_name,email,phone,company,tags\n"
    "Ada,Obi,ada@example.com,0803 123 4567,Acme,vip;Lagos\n"
    ",Nobody,nobody@example.com,,,\n"
    "Bola,Ade,not-an-email,,acme,\n"
    "Chi,Eze,ADA@example.com,,,\n"
)


async def test_a_file_with_a_bad_row_writes_nothing_and_reports_row_and_column(
    client: httpx.AsyncClient, database: Database, worker: Worker
) -> None:
    tenant = await make_tenant(database, modules=["crm"])

    body = await upload(client, tenant, BAD_FILE)
    await worker.run_until_idle()

    assert body["status"] == "invalid"
    assert (body["total_rows"], body["invalid_rows"], body["written_rows"]) == (4, 3, 0)
    problems = {(p["row"], p["column"]) for p in body["report"]}
    assert problems == {(3, "first_name"), (4, "email"), (5, "email")}
    assert await contact_count(database, tenant) == 0
    shown = await client.get(f"{IMPORTS}/{body['id']}", headers=tenant.headers)
    assert shown.json()["status"] == "invalid"
    listed = await client.get(IMPORTS, headers=tenant.headers)
    assert [item["id"] for item in listed.json()["items"]] == [body["id"]]


async def test_only_valid_writes_the_good_rows_through_the_job_with_one_event(
    client: httpx.AsyncClient, database: Database, worker: Worker
) -> None:
    tenant = await make_tenant(database, modules=["crm"])
    made = await client.post("/api/v1/crm/companies", json={"name": "ACME"}, headers=tenant.headers)
    assert made.status_code == 201, made.text

    body = await upload(client, tenant, BAD_FILE, only_valid=True)
    assert body["status"] == "validated"
    await worker.run_until_idle()

    done = (await client.get(f"{IMPORTS}/{body['id']}", headers=tenant.headers)).json()
    assert (done["status"], done["written_rows"]) == ("done", 1)
    assert done["finished_at"] is not None
    async with database.transaction(tenant.tenant_id) as session:
        ada = (await session.scalars(select(Contact))).one()
        companies = list(await session.scalars(select(Company)))
        events = list(
            await session.scalars(
                select(OutboxEvent.payload).where(
                    OutboxEvent.type == "crm.contacts.imported",
                    OutboxEvent.tenant_id == tenant.tenant_id,
                )
            )
        )
    assert (ada.email, ada.phone, ada.tags) == (
        "ada@example.com",
        "+2348031234567",
        ["vip", "lagos"],
    )
    assert [c.id for c in companies] == [ada.company_id]
    assert events == [{"import_id": body["id"], "contacts": 1, "companies": 0, "skipped": 3}]


async def test_duplicates_of_live_contacts_and_custom_columns_are_checked(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database, modules=["crm"])
    field = {"entity": "contact", "key": "size", "label": "Size", "kind": "number"}
    assert (
        await client.post("/api/v1/crm/fields", json=field, headers=tenant.headers)
    ).status_code == 201
    existing = {"first_name": "Old", "email": "old@example.com", "phone": "08031234567"}
    assert (
        await client.post("/api/v1/crm/contacts", json=existing, headers=tenant.headers)
    ).status_code == 201

    body = await upload(
        client,
        tenant,
        "first_name,email,phone,custom.size\n"
        "A,OLD@example.com,,1\n"
        "B,,+234 803 123 4567,2\n"
        "C,c@example.com,,large\n"
        "D,d@example.com,,3.5\n",
    )

    assert [(p["row"], p["column"]) for p in body["report"]] == [
        (2, "email"),
        (3, "phone"),
        (4, "custom.size"),
    ]
    unknown = await client.post(
        IMPORTS,
        content=b"first_name,custom.nope\nA,1\n",
        headers={**tenant.headers, "Content-Type": "text/csv"},
    )
    assert unknown.status_code == 422


async def test_another_business_holding_an_email_or_phone_does_not_make_a_row_a_duplicate(
    client: httpx.AsyncClient, database: Database, worker: Worker
) -> None:
    other = await make_tenant(database, modules=["crm"])
    tenant = await make_tenant(database, modules=["crm"])
    existing = {"first_name": "Elsewhere", "email": "shared@example.com", "phone": "08035550000"}
    made = await client.post("/api/v1/crm/contacts", json=existing, headers=other.headers)
    assert made.status_code == 201, made.text

    body = await upload(
        client, tenant, "first_name,email,phone\nAda,SHARED@example.com,+234 803 555 0000\n"
    )
    assert (body["status"], body["report"]) == ("validated", [])
    await worker.run_until_idle()

    done = (await client.get(f"{IMPORTS}/{body['id']}", headers=tenant.headers)).json()
    assert (done["status"], done["written_rows"], done["invalid_rows"]) == ("done", 1, 0)
    assert await contact_count(database, tenant) == 1
    assert await contact_count(database, other) == 1


async def test_a_large_import_is_written_with_few_statements(
    client: httpx.AsyncClient, database: Database, worker: Worker
) -> None:
    tenant = await make_tenant(database, modules=["crm"])
    lines = ["first_name,email,company"]
    lines += [f"P{n},p{n}@example.com,Firm {n % 7}" for n in range(5000)]
    body = await upload(client, tenant, "\n".join(lines))
    assert body["status"] == "validated"
    with counting(database) as statements:
        await worker.run_until_idle()
    inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT")]

    done = (await client.get(f"{IMPORTS}/{body['id']}", headers=tenant.headers)).json()
    assert (done["status"], done["written_rows"]) == ("done", 5000)
    assert await contact_count(database, tenant) == 5000
    assert len(inserts) < 50


async def test_export_is_filtered_by_access_and_hides_sensitive_columns(
    client: httpx.AsyncClient, database: Database, worker: Worker
) -> None:
    tenant = await make_tenant(database, modules=["crm"])
    field = {"entity": "contact", "key": "allergy", "label": "A", "kind": "text", "sensitive": True}
    await client.post("/api/v1/crm/fields", json=field, headers=tenant.headers)
    await upload(
        client,
        tenant,
        "first_name,email,tags,custom.allergy\nAda,ada@example.com,vip,nuts\n=Bad,b@example.com,,\n",
    )
    await worker.run_until_idle()
    member = await add_member(
        database, tenant, permissions=["crm.data.export", "crm.contact.read", "crm.contact.create"]
    )
    mine = await client.post(
        "/api/v1/crm/contacts", json={"first_name": "Mine"}, headers=member.headers
    )
    assert mine.status_code == 201

    owner_csv = await client.get(EXPORT, params={"tag": "vip"}, headers=tenant.headers)
    member_csv = await client.get(EXPORT, headers=member.headers)

    assert owner_csv.status_code == 200, owner_csv.text
    assert owner_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(owner_csv.text)))
    assert [(r["first_name"], r["tags"], r["custom.allergy"]) for r in rows] == [
        ("Ada", "vip", "nuts")
    ]
    everyone = await client.get(EXPORT, headers=tenant.headers)
    assert "'=Bad" in everyone.text
    member_rows = list(csv.DictReader(io.StringIO(member_csv.text)))
    assert [r["first_name"] for r in member_rows] == ["Mine"]
    assert "custom.allergy" not in member_rows[0]


async def test_a_contact_added_after_validation_makes_its_row_skipped_not_duplicated(
    client: httpx.AsyncClient, database: Database, worker: Worker
) -> None:
    tenant = await make_tenant(database, modules=["crm"])
    body = await upload(
        client,
        tenant,
        "first_name,email,phone,company\n"
        "Ada,ada@example.com,,Acme\n"
        "Bola,bola@example.com,,Bolt\n"
        "Chi,,0803 123 4567,\n",
    )
    assert (body["status"], body["invalid_rows"]) == ("validated", 0)
    for contact in (
        {"first_name": "Early", "email": "BOLA@example.com"},
        {"first_name": "Quick", "phone": "+2348031234567"},
    ):
        made = await client.post("/api/v1/crm/contacts", json=contact, headers=tenant.headers)
        assert made.status_code == 201, made.text

    await worker.run_until_idle()

    done = (await client.get(f"{IMPORTS}/{body['id']}", headers=tenant.headers)).json()
    assert (done["status"], done["written_rows"], done["invalid_rows"]) == ("done", 1, 2)
    assert [(p["row"], p["column"]) for p in done["report"]] == [(3, "email"), (4, "phone")]
    assert "since the file was checked" in done["report"][0]["problem"]
    assert await contact_count(database, tenant) == 3
    async with database.transaction(tenant.tenant_id) as session:
        names = set(await session.scalars(select(Company.name)))
    assert names == {"Acme"}


async def test_rows_are_checked_while_no_write_transaction_holds_the_lock(
    client: httpx.AsyncClient,
    database: Database,
    engine_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if engine_name != "sqlite":
        pytest.skip("the write lock is SQLite's")
    tenant = await make_tenant(database, modules=["crm"])
    path = database.url.split("///", 1)[1]
    free_while_checking: list[bool] = []
    check_row = imports._check_row

    def checked_with_probe(*args: Any) -> None:
        probe = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            free_while_checking.append(True)
        except sqlite3.OperationalError:
            free_while_checking.append(False)
        finally:
            probe.close()
        check_row(*args)

    monkeypatch.setattr(imports, "_check_row", checked_with_probe)
    body = await upload(client, tenant, "first_name,email\nAda,ada@example.com\nBola,\n")

    assert body["status"] == "validated"
    assert free_while_checking == [True, True]
