from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select

from nexus.core.audit import AuditEvent
from nexus.core.context import RequestContext
from nexus.core.db import Database
from nexus.identity.service import api_keys, credentials, users
from tests.identity.factories import add_member, make_tenant, unique

TENANTS = "/api/v1/platform/tenants"


@dataclass(frozen=True)
class Operator:
    user_id: uuid.UUID
    key_id: uuid.UUID
    api_key: str
    access_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    @property
    def token_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


async def make_operator(database: Database) -> Operator:
    async with database.transaction() as session:
        user = await users.create_user(
            session,
            email=f"{unique('operator')}@example.com",
            name="Olu Operator",
            platform_role="operator",
        )
        ctx = RequestContext(
            tenant_id=None,
            actor_type="user",
            actor_id=user.id,
            user_id=user.id,
            platform_role="operator",
        )
        key = await api_keys.create_api_key(
            session, ctx, name="operator", scopes=[], platform_role="operator", check_scopes=False
        )
        pair = await credentials.issue_tokens(
            session, user_id=user.id, tenant_id=None, access_minutes=15, refresh_days=1
        )
    return Operator(user.id, key.key.id, key.secret, pair.access_token)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def listed(client: httpx.AsyncClient, operator: Operator, **params: Any) -> dict[str, Any]:
    response = await client.get(TENANTS, params=params, headers=operator.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_list_finds_a_business_with_its_member_count(
    client: httpx.AsyncClient, database: Database
) -> None:
    operator = await make_operator(database)
    tenant = await make_tenant(database)
    await add_member(database, tenant)
    invited = await client.post(
        "/api/v1/identity/users",
        json={"email": f"{unique('inv')}@example.com", "role": "staff"},
        headers=tenant.headers,
    )
    assert invited.status_code == 201

    body = await listed(client, operator, search=tenant.slug.upper())

    assert body == {
        "items": [
            {
                "id": str(tenant.tenant_id),
                "slug": tenant.slug,
                "name": f"Biz {tenant.slug}",
                "country": "NG",
                "currency": "NGN",
                "status": "active",
                "member_count": 2,
                "created_at": body["items"][0]["created_at"],
            }
        ],
        "next_cursor": None,
    }


async def test_list_pages_newest_first_and_filters_status(
    client: httpx.AsyncClient, database: Database
) -> None:
    operator = await make_operator(database)
    made = [await make_tenant(database) for _ in range(3)]
    common = "biz-"
    suspended = made[1]
    await client.post(
        f"{TENANTS}/{suspended.tenant_id}/suspend",
        json={"reason": "test"},
        headers=operator.headers,
    )

    first = await listed(client, operator, search=common, limit=2)
    second = await listed(client, operator, search=common, limit=2, cursor=first["next_cursor"])
    only_suspended = await listed(client, operator, search=suspended.slug, status="suspended")
    none_active = await listed(client, operator, search=suspended.slug, status="active")

    newest = [item["id"] for item in first["items"] + second["items"]]
    assert newest[:2] == [str(made[2].tenant_id), str(made[1].tenant_id)]
    assert newest[2] == str(made[0].tenant_id)
    assert [t["id"] for t in only_suspended["items"]] == [str(suspended.tenant_id)]
    assert none_active["items"] == []


async def test_detail(client: httpx.AsyncClient, database: Database) -> None:
    operator = await make_operator(database)
    tenant = await make_tenant(database, country="GH", currency="GHS", timezone="Africa/Accra")

    response = await client.get(f"{TENANTS}/{tenant.tenant_id}", headers=operator.token_headers)

    assert response.status_code == 200
    body = response.json()
    assert (body["slug"], body["country"], body["currency"], body["timezone"]) == (
        tenant.slug,
        "GH",
        "GHS",
        "Africa/Accra",
    )
    assert (body["member_count"], body["enabled_modules"], body["status"]) == (
        1,
        ["core", "identity"],
        "active",
    )
    assert (body["suspended_at"], body["suspended_reason"], body["version"]) == (None, None, 1)


async def test_unknown_business_is_404(client: httpx.AsyncClient, database: Database) -> None:
    operator = await make_operator(database)

    response = await client.get(f"{TENANTS}/{uuid.uuid4()}", headers=operator.headers)

    assert response.status_code == 404
    assert response.json()["code"] == "tenant_not_found"


async def test_only_operators_reach_the_platform(
    client: httpx.AsyncClient, database: Database
) -> None:
    operator = await make_operator(database)
    tenant = await make_tenant(database)
    other = await make_tenant(database)
    path = f"{TENANTS}/{tenant.tenant_id}"

    anonymous = await client.get(path)
    owner = await client.get(path, headers=tenant.headers)
    owner_key = await client.get(TENANTS, headers=bearer(tenant.api_key))
    foreign = await client.post(f"{path}/suspend", json={"reason": "x"}, headers=other.headers)
    allowed = await client.get(path, headers=operator.headers)

    assert anonymous.status_code == 401
    assert (owner.status_code, owner.json()["code"]) == (403, "permission_denied")
    assert owner_key.status_code == 403
    assert foreign.status_code == 403
    assert allowed.status_code == 200
    assert allowed.json()["status"] == "active"


async def test_an_operator_has_no_business_of_its_own(
    client: httpx.AsyncClient, database: Database
) -> None:
    operator = await make_operator(database)

    response = await client.get("/api/v1/identity/users", headers=operator.headers)

    assert response.status_code == 403


async def test_suspend_locks_every_credential_of_the_business(
    client: httpx.AsyncClient, database: Database
) -> None:
    operator = await make_operator(database)
    tenant = await make_tenant(database)
    other = await make_tenant(database)

    response = await client.post(
        f"{TENANTS}/{tenant.tenant_id}/suspend",
        json={"reason": "Unpaid invoices"},
        headers=operator.headers,
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["suspended_reason"], body["version"]) == (
        "suspended",
        "Unpaid invoices",
        2,
    )
    assert body["suspended_at"] is not None
    for headers in (tenant.headers, bearer(tenant.api_key)):
        refused = await client.get("/api/v1/identity/tenant", headers=headers)
        assert refused.status_code == 403
        assert refused.json()["code"] == "tenant_suspended"
    assert (await client.get("/api/v1/identity/tenant", headers=other.headers)).status_code == 200
    async with database.transaction() as session:
        event = (
            await session.scalars(
                select(AuditEvent).where(
                    AuditEvent.tenant_id == tenant.tenant_id,
                    AuditEvent.action == "platform.tenant.suspended",
                )
            )
        ).one()
    assert (event.actor_type, event.actor_id, event.changes) == (
        "api_key",
        operator.key_id,
        ["status"],
    )


async def test_suspend_twice_is_409_and_reactivate_restores_access(
    client: httpx.AsyncClient, database: Database
) -> None:
    operator = await make_operator(database)
    tenant = await make_tenant(database)
    path = f"{TENANTS}/{tenant.tenant_id}"
    await client.post(f"{path}/suspend", json={"reason": "x"}, headers=operator.headers)

    twice = await client.post(f"{path}/suspend", json={"reason": "y"}, headers=operator.headers)
    reactivated = await client.post(f"{path}/reactivate", headers=operator.headers)
    again = await client.post(f"{path}/reactivate", headers=operator.headers)

    assert (twice.status_code, twice.json()["code"]) == (409, "conflict")
    assert reactivated.status_code == 200
    body = reactivated.json()
    assert (body["status"], body["suspended_at"], body["suspended_reason"]) == (
        "active",
        None,
        None,
    )
    assert (again.status_code, again.json()["code"]) == (409, "conflict")
    assert (await client.get("/api/v1/identity/tenant", headers=tenant.headers)).status_code == 200
    me = await client.get("/api/v1/me", headers=bearer(tenant.api_key))
    assert me.status_code == 200


async def test_suspend_needs_a_reason(client: httpx.AsyncClient, database: Database) -> None:
    operator = await make_operator(database)
    tenant = await make_tenant(database)

    response = await client.post(
        f"{TENANTS}/{tenant.tenant_id}/suspend", json={"reason": "  "}, headers=operator.headers
    )

    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["body.reason"]
    assert (await client.get("/api/v1/identity/tenant", headers=tenant.headers)).status_code == 200


async def test_suspend_unknown_business_is_404(
    client: httpx.AsyncClient, database: Database
) -> None:
    operator = await make_operator(database)

    response = await client.post(
        f"{TENANTS}/{uuid.uuid4()}/suspend", json={"reason": "x"}, headers=operator.headers
    )

    assert (response.status_code, response.json()["code"]) == (404, "tenant_not_found")
