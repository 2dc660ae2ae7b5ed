from __future__ import annotations

import httpx

from nexus.core.db import Database
from tests.identity.factories import make_tenant


async def test_me_with_access_token_describes_the_owner(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)

    response = await client.get("/api/v1/me", headers=tenant.headers)

    assert response.status_code == 200
    body = response.json()
    assert body["email"] == tenant.owner.email
    assert body["tenant_slug"] == tenant.slug
    assert body["role"] == "owner"
    assert body["permissions"] == ["*"]
    assert body["memberships"] == [
        {
            "tenant_id": str(tenant.tenant_id),
            "tenant_slug": tenant.slug,
            "tenant_name": f"Biz {tenant.slug}",
            "role": "owner",
        }
    ]


async def test_me_with_api_key(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await make_tenant(database)

    response = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {tenant.api_key}"})

    assert response.status_code == 200
    assert response.json()["actor_type"] == "api_key"
    assert response.json()["tenant_id"] == str(tenant.tenant_id)


async def test_me_anonymous_is_401_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/me")

    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "unauthenticated"
    assert response.headers["www-authenticate"] == "Bearer"
