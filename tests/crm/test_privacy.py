"""Consent (record, list, withdraw), export of everything held on a contact, and erasure."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select

from nexus.core.audit import AuditEvent
from nexus.core.db import Database, bind_tenant
from nexus.core.events import OutboxEvent
from nexus.crm.models import Activity, Consent, Contact, Lead
from nexus.crm.service import fields
from tests.identity.factories import TenantFixture, add_member, make_tenant

CRM = "/api/v1/crm"


async def crm_tenant(database: Database) -> TenantFixture:
    return await make_tenant(database, modules=["crm"])


async def patient(database: Database, tenant: TenantFixture) -> uuid.UUID:
    """A contact with personal and sensitive data, and an activity about them."""
    async with database.transaction(tenant_id=tenant.tenant_id) as session:
        await bind_tenant(session, tenant.tenant_id)
        contact = Contact(
            first_name="Ada",
            last_name="Obi",
            search_name="ada obi",
            email="ada@example.com",
            email_key="ada@example.com",
            phone="+2348031234567",
            job_title="Teacher",
            address={"line1": "1 Marina", "city": "Lagos"},
            tags=["vip"],
            custom={"blood_group": "O"},
            sensitive_encrypted=fields.seal(session, {"allergies": "penicillin"}),
            source="walk-in",
            owner_id=tenant.owner.user_id,
        )
        session.add(contact)
        await session.flush()
        session.add(
            Activity(
                kind="call",
                subject="Call Ada about her allergy",
                body="Reacts to penicillin",
                contact_id=contact.id,
            )
        )
        made: uuid.UUID = contact.id
    return made


async def consent(
    client: httpx.AsyncClient, tenant: TenantFixture, contact_id: uuid.UUID, **body: Any
) -> httpx.Response:
    given = {"channel": "whatsapp", "purpose": "appointment reminders", "source": "front desk"}
    return await client.post(
        f"{CRM}/contacts/{contact_id}/consents", json={**given, **body}, headers=tenant.headers
    )


async def audit_of(database: Database, target: uuid.UUID) -> list[AuditEvent]:
    async with database.transaction() as session:
        rows = await session.scalars(
            select(AuditEvent)
            .where(AuditEvent.target_id == str(target))
            .order_by(AuditEvent.occurred_at, AuditEvent.id)
        )
        return list(rows)


async def test_consent_is_recorded_listed_and_withdrawn(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    contact_id = await patient(database, tenant)

    given = await consent(client, tenant, contact_id)
    withdrawn = await client.post(
        f"{CRM}/contacts/{contact_id}/consents/{given.json()['id']}/withdraw",
        headers=tenant.headers,
    )
    listed = await client.get(f"{CRM}/contacts/{contact_id}/consents", headers=tenant.headers)

    assert given.status_code == 201, given.text
    assert (given.json()["channel"], given.json()["is_active"]) == ("whatsapp", True)
    assert given.json()["recorded_by"] == str(tenant.owner.user_id)
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["is_active"] is False and withdrawn.json()["withdrawn_at"]
    assert listed.json()["items"] == [withdrawn.json()]
    actions = [e.action for e in await audit_of(database, contact_id)]
    assert actions == ["crm.consent.recorded", "crm.consent.withdrawn"]


async def test_withdrawing_twice_is_a_409(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await crm_tenant(database)
    contact_id = await patient(database, tenant)
    consent_id = (await consent(client, tenant, contact_id)).json()["id"]
    url = f"{CRM}/contacts/{contact_id}/consents/{consent_id}/withdraw"
    first = await client.post(url, headers=tenant.headers)

    again = await client.post(url, headers=tenant.headers)

    assert again.status_code == 409
    assert again.json()["code"] == "consent_already_withdrawn"
    listed = await client.get(f"{CRM}/contacts/{contact_id}/consents", headers=tenant.headers)
    assert listed.json()["items"][0]["withdrawn_at"] == first.json()["withdrawn_at"]


async def test_a_consent_is_withdrawn_only_through_its_own_contact(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    ada = await patient(database, tenant)
    other = await patient(database, tenant)
    consent_id = (await consent(client, tenant, ada)).json()["id"]

    response = await client.post(
        f"{CRM}/contacts/{other}/consents/{consent_id}/withdraw", headers=tenant.headers
    )

    assert response.status_code == 404
    assert response.json()["code"] == "consent_not_found"


async def test_an_unknown_channel_is_a_422_and_nothing_is_recorded(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    contact_id = await patient(database, tenant)

    response = await consent(client, tenant, contact_id, channel="pigeon")

    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["body.channel"]
    listed = await client.get(f"{CRM}/contacts/{contact_id}/consents", headers=tenant.headers)
    assert listed.json()["items"] == []


async def test_a_reader_sees_consents_but_cannot_record_them(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    reader = await add_member(database, tenant, permissions=["crm.contact.read", "crm.record.all"])
    contact_id = await patient(database, tenant)
    await consent(client, tenant, contact_id)

    listed = await client.get(f"{CRM}/contacts/{contact_id}/consents", headers=reader.headers)
    refused = await client.post(
        f"{CRM}/contacts/{contact_id}/consents",
        json={"channel": "sms", "purpose": "offers", "source": "web"},
        headers=reader.headers,
    )

    assert len(listed.json()["items"]) == 1
    assert refused.status_code == 403


async def test_the_export_holds_everything_on_the_contact(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    contact_id = await patient(database, tenant)
    await consent(client, tenant, contact_id)
    lead = await client.post(
        f"{CRM}/leads", json={"name": "Ada Obi", "email": "ADA@example.com"}, headers=tenant.headers
    )
    converted = await client.post(
        f"{CRM}/leads/{lead.json()['id']}/convert",
        json={"deal": {"title": "Annual check-up"}},
        headers=tenant.headers,
    )
    assert converted.json()["contact_id"] == str(contact_id)

    response = await client.get(f"{CRM}/contacts/{contact_id}/export", headers=tenant.headers)

    assert response.status_code == 200, response.text
    data = response.json()
    assert data["contact"]["id"] == str(contact_id)
    assert (data["contact"]["email"], data["contact"]["phone"]) == (
        "ada@example.com",
        "+2348031234567",
    )
    assert data["contact"]["custom"] == {"blood_group": "O", "allergies": "penicillin"}
    assert "sensitive_encrypted" not in data["contact"]
    assert [c["purpose"] for c in data["consents"]] == ["appointment reminders"]
    assert [a["body"] for a in data["activities"]] == ["Reacts to penicillin"]
    assert [d["title"] for d in data["deals"]] == ["Annual check-up"]
    assert [lead["id"] for lead in data["leads"]] == [converted.json()["lead"]["id"]]
    assert [e["action"] for e in data["audit_events"]] == ["crm.consent.recorded"]
    exported = (await audit_of(database, contact_id))[-1]
    assert (exported.action, exported.changes) == ("crm.contact.exported", ["allergies"])


async def test_erasure_leaves_no_personal_data_and_keeps_the_proof(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    contact_id = await patient(database, tenant)
    await consent(client, tenant, contact_id)
    lead = await client.post(
        f"{CRM}/leads",
        json={"name": "Ada Obi", "email": "ada@example.com", "notes": "Allergic"},
        headers=tenant.headers,
    )
    await client.post(f"{CRM}/leads/{lead.json()['id']}/convert", json={}, headers=tenant.headers)

    response = await client.post(f"{CRM}/contacts/{contact_id}/erase", headers=tenant.headers)

    assert response.status_code == 200, response.text
    assert {k: v for k, v in response.json().items() if k != "erased_at"} == {
        "contact_id": str(contact_id),
        "consents": 1,
        "activities": 1,
        "leads": 1,
    }
    async with database.transaction(tenant_id=tenant.tenant_id) as session:
        await bind_tenant(session, tenant.tenant_id)
        contact = await session.get_one(Contact, (tenant.tenant_id, contact_id))
        consents = list(await session.scalars(select(Consent)))
        activity = await session.scalar(select(Activity))
        converted = await session.scalar(select(Lead))
        erased_events = list(
            await session.scalars(
                select(OutboxEvent.payload).where(
                    OutboxEvent.tenant_id == tenant.tenant_id,
                    OutboxEvent.type == "crm.contact.erased",
                )
            )
        )
    personal = (
        contact.email,
        contact.email_key,
        contact.phone,
        contact.job_title,
        contact.address,
        contact.source,
        contact.sensitive_encrypted,
    )
    assert (contact.first_name, contact.last_name, contact.search_name) == (
        "Erased contact",
        "",
        "erased contact",
    )
    assert personal == (None,) * 7
    assert (contact.tags, contact.custom) == ([], {})
    assert contact.erased_at is not None
    assert [(c.channel, c.purpose, c.source) for c in consents] == [
        ("whatsapp", "appointment reminders", "erased")
    ]
    assert consents[0].granted_at is not None
    assert activity is not None and (activity.subject, activity.body) == ("Erased", None)
    assert converted is not None
    assert (converted.name, converted.email, converted.notes) == ("Erased lead", None, None)
    assert erased_events == [{"contact_id": str(contact_id)}]
    erasure = (await audit_of(database, contact_id))[-1]
    assert erasure.action == "crm.contact.erased"
    assert "Ada" not in str(erasure.changes) and "penicillin" not in str(erasure.changes)


async def test_erasing_twice_is_a_409_and_an_erased_contact_takes_no_consent(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    contact_id = await patient(database, tenant)
    await client.post(f"{CRM}/contacts/{contact_id}/erase", headers=tenant.headers)

    again = await client.post(f"{CRM}/contacts/{contact_id}/erase", headers=tenant.headers)
    consented = await consent(client, tenant, contact_id)

    assert (again.status_code, consented.status_code) == (409, 409)
    assert again.json()["code"] == "contact_erased"
    actions = [e.action for e in await audit_of(database, contact_id)]
    assert actions.count("crm.contact.erased") == 1


async def test_staff_cannot_export_or_erase_a_contact_they_do_not_own(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    staff = await add_member(
        database, tenant, permissions=["crm.data.export", "crm.contact.read", "crm.data.erase"]
    )
    contact_id = await patient(database, tenant)

    exported = await client.get(f"{CRM}/contacts/{contact_id}/export", headers=staff.headers)
    erased = await client.post(f"{CRM}/contacts/{contact_id}/erase", headers=staff.headers)

    assert (exported.status_code, erased.status_code) == (404, 404)
    async with database.transaction(tenant_id=tenant.tenant_id) as session:
        await bind_tenant(session, tenant.tenant_id)
        contact = await session.get_one(Contact, (tenant.tenant_id, contact_id))
    assert (contact.first_name, contact.erased_at) == ("Ada", None)
