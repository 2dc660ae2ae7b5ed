"""The CRM's resources for the tenant-isolation walk, each made through the API."""

from __future__ import annotations

import httpx

from tests.identity.factories import TenantFixture, unique
from tests.resources import resource_factory


def _created(response: httpx.Response) -> str:
    assert response.status_code == 201, response.text
    made: str = response.json()["id"]
    return made


@resource_factory("field_id")
async def make_field(client: httpx.AsyncClient, tenant: TenantFixture) -> str:
    response = await client.post(
        "/api/v1/crm/fields",
        json={
            "entity": "contact",
            "key": unique("f").replace("-", "_"),
            "label": "Shoe size",
            "kind": "number",
        },
        headers=tenant.headers,
    )
    return _created(response)


@resource_factory("contact_id")
async def make_contact(client: httpx.AsyncClient, tenant: TenantFixture) -> str:
    response = await client.post(
        "/api/v1/crm/contacts",
        json={"first_name": "Chioma", "email": f"{unique('contact')}@example.com"},
        headers=tenant.headers,
    )
    return _created(response)


@resource_factory("company_id")
async def make_company(client: httpx.AsyncClient, tenant: TenantFixture) -> str:
    response = await client.post(
        "/api/v1/crm/companies",
        json={"name": "Ada Stores", "email": f"{unique('company')}@example.com"},
        headers=tenant.headers,
    )
    return _created(response)


async def _pipeline(client: httpx.AsyncClient, tenant: TenantFixture) -> str:
    response = await client.post(
        "/api/v1/crm/pipelines",
        json={
            "key": unique("p").replace("-", "_"),
            "name": "Sales",
            "stages": [
                {"name": "Qualified", "probability": 20},
                {"name": "Won", "kind": "won"},
                {"name": "Lost", "kind": "lost"},
            ],
        },
        headers=tenant.headers,
    )
    return _created(response)


@resource_factory("pipeline_id")
async def make_pipeline(client: httpx.AsyncClient, tenant: TenantFixture) -> str:
    return await _pipeline(client, tenant)


@resource_factory("deal_id")
async def make_deal(client: httpx.AsyncClient, tenant: TenantFixture) -> str:
    pipeline_id = await _pipeline(client, tenant)
    response = await client.post(
        "/api/v1/crm/deals",
        json={"title": "Uniforms", "pipeline_id": pipeline_id, "amount": {"amount_minor": 500}},
        headers=tenant.headers,
    )
    return _created(response)


@resource_factory("activity_id")
async def make_activity(client: httpx.AsyncClient, tenant: TenantFixture) -> str:
    response = await client.post(
        "/api/v1/crm/activities",
        json={"kind": "call", "subject": "Call back"},
        headers=tenant.headers,
    )
    return _created(response)


async def _lead(client: httpx.AsyncClient, tenant: TenantFixture) -> str:
    response = await client.post(
        "/api/v1/crm/leads",
        json={"name": "Chidi Okafor", "email": f"{unique('lead')}@example.com"},
        headers=tenant.headers,
    )
    return _created(response)


@resource_factory("lead_id")
async def make_lead(client: httpx.AsyncClient, tenant: TenantFixture) -> str:
    return await _lead(client, tenant)


@resource_factory("consent_id")
async def make_consent(client: httpx.AsyncClient, tenant: TenantFixture) -> str:
    """A consent of a contact made by converting a lead."""
    lead_id = await _lead(client, tenant)
    converted = await client.post(
        f"/api/v1/crm/leads/{lead_id}/convert", json={}, headers=tenant.headers
    )
    assert converted.status_code == 200, converted.text
    response = await client.post(
        f"/api/v1/crm/contacts/{converted.json()['contact_id']}/consents",
        json={"channel": "sms", "purpose": "reminders", "source": "front desk"},
        headers=tenant.headers,
    )
    return _created(response)


@resource_factory("import_id")
async def make_import(client: httpx.AsyncClient, tenant: TenantFixture) -> str:
    response = await client.post(
        "/api/v1/crm/imports",
        content=f"first_name,email\nAda,{unique('import')}@example.com\n".encode(),
        headers={**tenant.headers, "Content-Type": "text/csv"},
    )
    return _created(response)


@resource_factory("activity_type_id")
async def make_activity_type(client: httpx.AsyncClient, tenant: TenantFixture) -> str:
    response = await client.post(
        "/api/v1/crm/activity-types",
        json={"key": unique("kind").replace("-", "_")[:32], "name": "Site visit"},
        headers=tenant.headers,
    )
    return _created(response)
