"""Identity's resources for the tenant-isolation walk, each made through the API."""

from __future__ import annotations

import httpx

from tests.identity.factories import TenantFixture, unique
from tests.resources import resource_factory


def _created(response: httpx.Response) -> str:
    assert response.status_code == 201, response.text
    made: str = response.json()["id" if "id" in response.json() else "user_id"]
    return made


@resource_factory("user_id")
async def make_user(client: httpx.AsyncClient, tenant: TenantFixture) -> str:
    response = await client.post(
        "/api/v1/identity/users",
        json={"email": f"{unique('invitee')}@example.com", "role": "staff", "name": "Ike"},
        headers=tenant.headers,
    )
    return _created(response)


@resource_factory("role_id")
async def make_role(client: httpx.AsyncClient, tenant: TenantFixture) -> str:
    response = await client.post(
        "/api/v1/identity/roles",
        json={
            "key": unique("role").replace("-", "_"),
            "name": "Cashier",
            "permissions": ["identity.tenant.read"],
        },
        headers=tenant.headers,
    )
    return _created(response)


@resource_factory("key_id")
async def make_api_key(client: httpx.AsyncClient, tenant: TenantFixture) -> str:
    response = await client.post(
        "/api/v1/identity/api-keys",
        json={"name": "sync", "scopes": ["identity.tenant.read"]},
        headers=tenant.headers,
    )
    return _created(response)


@resource_factory("branch_id")
async def make_branch(client: httpx.AsyncClient, tenant: TenantFixture) -> str:
    response = await client.post(
        "/api/v1/identity/branches",
        json={"name": "Ikeja shop", "code": unique("B")[:20]},
        headers=tenant.headers,
    )
    return _created(response)
