"""Helpers of the pipeline, deal and activity tests: pipelines made through the API, contacts
written straight to the database (their API is tested elsewhere), outbox and query counts."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select

from nexus.core.audit import record
from nexus.core.context import RequestContext
from nexus.core.db import Database, bind_tenant
from nexus.core.events import OutboxEvent
from nexus.crm.models import Contact
from tests.identity.factories import TenantFixture, make_tenant, unique

PIPELINES = "/api/v1/crm/pipelines"
DEALS = "/api/v1/crm/deals"
ACTIVITIES = "/api/v1/crm/activities"

STAGES: list[dict[str, Any]] = [
    {"name": "Qualified", "probability": 10},
    {"name": "Proposal", "probability": 35},
    {"name": "Negotiation", "probability": 75},
    {"name": "Won", "kind": "won"},
    {"name": "Lost", "kind": "lost"},
]


async def crm_tenant(database: Database) -> TenantFixture:
    return await make_tenant(database, modules=["crm"])


def created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def make_pipeline(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    stages: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    body = {"name": "Sales", "key": unique("p").replace("-", "_"), "stages": stages or STAGES}
    response = await client.post(PIPELINES, json=body | extra, headers=tenant.headers)
    return created(response)


def stage_ids(pipeline: dict[str, Any]) -> dict[str, str]:
    """Stage key → id."""
    return {stage["key"]: stage["id"] for stage in pipeline["stages"]}


async def make_deal(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    amount: int = 0,
    currency: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    money: dict[str, Any] = {"amount_minor": amount}
    if currency:
        money["currency"] = currency
    body = {"title": unique("deal"), "amount": money} | extra
    return created(await client.post(DEALS, json=body, headers=headers))


async def make_contact(database: Database, tenant: TenantFixture, *, audited: bool = True) -> str:
    """A contact of `tenant`, with its creation in the audit log (as the contacts API does)."""
    async with database.transaction(tenant_id=tenant.tenant_id) as session:
        await bind_tenant(session, tenant.tenant_id)
        contact = Contact(first_name="Chioma", last_name="Obi", search_name="chioma obi")
        session.add(contact)
        await session.flush()
        if audited:
            ctx = RequestContext(
                tenant_id=tenant.tenant_id,
                actor_type="user",
                actor_id=tenant.owner.user_id,
                user_id=tenant.owner.user_id,
            )
            record(
                session, ctx, "crm.contact.created", target_type="crm_contact", target_id=contact.id
            )
        return str(contact.id)


async def outbox(database: Database, tenant: TenantFixture, kind: str) -> list[dict[str, Any]]:
    """Payloads of `tenant`'s events of type `kind`, oldest first."""
    async with database.transaction() as session:
        rows = await session.scalars(
            select(OutboxEvent.payload)
            .where(OutboxEvent.tenant_id == tenant.tenant_id, OutboxEvent.type == kind)
            .order_by(OutboxEvent.occurred_at, OutboxEvent.id)
        )
        return list(rows)


def new_id() -> str:
    return str(uuid.uuid4())
