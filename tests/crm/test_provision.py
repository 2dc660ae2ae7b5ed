"""CRM provisioning: what each industry's activation sets up, and running it again."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from nexus.activation.industries import Preset
from nexus.activation.presets import load_preset
from nexus.core.context import RequestContext
from nexus.core.db import Database, bind_tenant
from nexus.crm.models import ActivityType, FieldDefinition, Pipeline, Stage
from nexus.crm.provision import provision
from nexus.identity.models import Tenant
from tests.activation.test_activate_api import ACTIVATE
from tests.identity.factories import make_tenant, unique
from tests.identity.test_platform import make_operator

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

#: What activating each example creates in the CRM (its industry's preset section).
EXPECTED = {
    "consultancy-london": {"pipelines": 1, "stages": 6, "activity_types": 2, "fields": 3},
    "ecommerce-nigeria": {"pipelines": 2, "stages": 11, "activity_types": 2, "fields": 3},
    "healthcare-nigeria": {"pipelines": 1, "stages": 6, "activity_types": 3, "fields": 8},
    "restaurant-lagos": {"pipelines": 1, "stages": 6, "activity_types": 2, "fields": 4},
    "school-nairobi": {"pipelines": 1, "stages": 6, "activity_types": 3, "fields": 4},
}


def _owner(tenant_id: uuid.UUID) -> RequestContext:
    return RequestContext(
        tenant_id=tenant_id, actor_type="system", actor_id=None, permissions=frozenset({"*"})
    )


async def _counts(database: Database, tenant_id: uuid.UUID) -> dict[str, int]:
    async with database.transaction(tenant_id=tenant_id) as session:
        await bind_tenant(session, tenant_id)
        found = {}
        for name, model in (
            ("pipelines", Pipeline),
            ("stages", Stage),
            ("activity_types", ActivityType),
            ("fields", FieldDefinition),
        ):
            found[name] = int(await session.scalar(select(func.count()).select_from(model)) or 0)
        return found


async def _tenant_id(database: Database, slug: str) -> uuid.UUID:
    async with database.session(write=False) as session:
        tenant_id = await session.scalar(select(Tenant.id).where(Tenant.slug == slug))
    assert tenant_id is not None
    return tenant_id


@pytest.mark.parametrize("name", sorted(EXPECTED))
async def test_activating_each_example_sets_up_its_industrys_crm(
    client: httpx.AsyncClient, database: Database, name: str
) -> None:
    operator = await make_operator(database)
    spec: dict[str, Any] = json.loads((EXAMPLES / f"{name}.json").read_text())
    slug = unique(name)[:40]
    spec["business"]["slug"] = slug
    spec["owner"]["email"] = f"{slug}@example.com"

    response = await client.post(ACTIVATE, json=spec, headers=operator.headers)

    assert response.status_code == 201, response.text
    crm = next(m for m in response.json()["modules"] if m["name"] == "crm")
    assert crm["created"] == EXPECTED[name]
    assert await _counts(database, await _tenant_id(database, slug)) == EXPECTED[name]


async def test_the_clinic_gets_a_default_patient_pipeline_and_sensitive_medical_fields(
    client: httpx.AsyncClient, database: Database
) -> None:
    operator = await make_operator(database)
    spec: dict[str, Any] = json.loads((EXAMPLES / "healthcare-nigeria.json").read_text())
    slug = unique("clinic")[:40]
    spec["business"]["slug"] = slug
    spec["owner"]["email"] = f"{slug}@example.com"

    assert (await client.post(ACTIVATE, json=spec, headers=operator.headers)).status_code == 201

    tenant_id = await _tenant_id(database, slug)
    async with database.transaction(tenant_id=tenant_id) as session:
        await bind_tenant(session, tenant_id)
        pipeline = await session.scalar(select(Pipeline).where(Pipeline.is_default.is_(True)))
        fields = {f.key: f for f in (await session.scalars(select(FieldDefinition))).all()}
        types = set((await session.scalars(select(ActivityType.key))).all())
    assert pipeline is not None and pipeline.key == "patients"
    assert types == {"consultation", "follow_up", "prescription"}
    assert {k for k, f in fields.items() if f.sensitive} == {
        "date_of_birth",
        "medical_history",
        "allergies",
        "diagnoses",
        "prescriptions",
        "insurance_number",
        "next_of_kin",
        "blood_group",
    }
    assert fields["date_of_birth"].kind == "date"


async def test_a_spec_that_redefines_a_protected_field_cannot_make_it_plain(
    client: httpx.AsyncClient, database: Database
) -> None:
    operator = await make_operator(database)
    spec: dict[str, Any] = json.loads((EXAMPLES / "healthcare-nigeria.json").read_text())
    slug = unique("clinic")[:40]
    spec["business"]["slug"] = slug
    spec["owner"]["email"] = f"{slug}@example.com"
    spec["modules"]["settings"]["crm"] = {
        "fields": [{"entity": "contact", "key": "allergies", "label": "Allergies"}]
    }

    response = await client.post(ACTIVATE, json=spec, headers=operator.headers)

    assert response.status_code == 201, response.text
    crm = next(m for m in response.json()["modules"] if m["name"] == "crm")
    assert crm["created"] == {"pipelines": 1, "stages": 6, "activity_types": 0, "fields": 1}
    tenant_id = await _tenant_id(database, slug)
    async with database.transaction(tenant_id=tenant_id) as session:
        await bind_tenant(session, tenant_id)
        field = await session.scalar(select(FieldDefinition))
    assert field is not None and (field.key, field.sensitive) == ("allergies", True)


async def test_provisioning_twice_creates_nothing_the_second_time(database: Database) -> None:
    tenant = await make_tenant(database, modules=["crm"])
    preset = load_preset(Preset.HEALTHCARE)
    assert preset.sections.crm is not None
    section = preset.sections.crm.model_dump(mode="json")

    async with database.transaction(tenant_id=tenant.tenant_id) as session:
        await bind_tenant(session, tenant.tenant_id)
        first = await provision(session, _owner(tenant.tenant_id), section)
    async with database.transaction(tenant_id=tenant.tenant_id) as session:
        await bind_tenant(session, tenant.tenant_id)
        second = await provision(session, _owner(tenant.tenant_id), section)

    assert first == {"pipelines": 1, "stages": 6, "activity_types": 3, "fields": 8}
    assert second == {"pipelines": 0, "stages": 0, "activity_types": 0, "fields": 0}
    assert await _counts(database, tenant.tenant_id) == first


async def test_a_section_without_pipelines_gets_the_default_sales_pipeline(
    database: Database,
) -> None:
    tenant = await make_tenant(database, modules=["crm"])

    async with database.transaction(tenant_id=tenant.tenant_id) as session:
        await bind_tenant(session, tenant.tenant_id)
        created = await provision(session, _owner(tenant.tenant_id), {})
        pipeline = await session.scalar(select(Pipeline))
        stages = (await session.scalars(select(Stage).order_by(Stage.position))).all()

    assert created == {"pipelines": 1, "stages": 6, "activity_types": 0, "fields": 0}
    assert pipeline is not None and (pipeline.key, pipeline.is_default) == ("sales", True)
    assert [(s.key, s.probability, s.kind) for s in stages] == [
        ("lead", 10, "open"),
        ("qualified", 25, "open"),
        ("proposal", 50, "open"),
        ("negotiation", 75, "open"),
        ("won", 100, "won"),
        ("lost", 0, "lost"),
    ]
