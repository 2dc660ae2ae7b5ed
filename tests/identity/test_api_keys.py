from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx
from sqlalchemy import func, select

from nexus.core.audit import AuditEvent
from nexus.core.db import Database
from nexus.identity.models import ApiKey
from tests.identity.factories import TenantFixture, add_member, make_tenant

KEYS = "/api/v1/identity/api-keys"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def create_key(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    *,
    scopes: list[str] | None = None,
    name: str = "Accounting sync",
) -> dict[str, Any]:
    response = await client.post(
        KEYS,
        json={"name": name, "scopes": scopes or ["identity.tenant.read"]},
        headers=tenant.headers,
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def key_count(database: Database, tenant: TenantFixture) -> int:
    async with database.transaction() as session:
        return int(
            await session.scalar(
                select(func.count(ApiKey.id)).where(ApiKey.tenant_id == tenant.tenant_id)
            )
            or 0
        )


async def test_create_shows_the_secret_once_and_it_works(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    expires = (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).replace(microsecond=0)

    response = await client.post(
        KEYS,
        json={
            "name": "Accounting sync",
            "scopes": ["identity.user.read", "identity.tenant.read"],
            "expires_at": expires.isoformat(),
        },
        headers=tenant.headers,
    )

    assert response.status_code == 201
    body = response.json()
    assert body["key"].startswith("nxk_")
    assert body["prefix"] == body["key"][:12]
    assert body["scopes"] == ["identity.tenant.read", "identity.user.read"]
    assert body["created_by"] == str(tenant.owner.user_id)
    assert dt.datetime.fromisoformat(body["expires_at"]) == expires
    assert (body["revoked_at"], body["last_used_at"]) == (None, None)
    me = await client.get("/api/v1/me", headers=bearer(body["key"]))
    assert (me.json()["actor_type"], me.json()["permissions"]) == (
        "api_key",
        ["identity.tenant.read", "identity.user.read"],
    )
    shown = await client.get(f"{KEYS}/{body['id']}", headers=tenant.headers)
    assert "key" not in shown.json()
    assert shown.json()["last_used_at"] is not None
    async with database.transaction() as session:
        event = (
            await session.scalars(
                select(AuditEvent).where(
                    AuditEvent.tenant_id == tenant.tenant_id,
                    AuditEvent.target_id == body["id"],
                )
            )
        ).one()
    assert (event.action, event.changes) == (
        "identity.api_key.created",
        ["expires_at", "name", "scopes"],
    )


async def test_a_scoped_key_can_do_only_its_scopes(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    key = await create_key(client, tenant, scopes=["identity.tenant.read"])

    allowed = await client.get("/api/v1/identity/tenant", headers=bearer(key["key"]))
    refused = await client.get("/api/v1/identity/users", headers=bearer(key["key"]))

    assert allowed.status_code == 200
    assert refused.status_code == 403


async def test_list_never_shows_secrets_and_pages_newest_first(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    first = await create_key(client, tenant, name="first")
    second = await create_key(client, tenant, name="second")

    page_one = (await client.get(KEYS, params={"limit": 2}, headers=tenant.headers)).json()
    page_two = (
        await client.get(
            KEYS, params={"limit": 2, "cursor": page_one["next_cursor"]}, headers=tenant.headers
        )
    ).json()

    names = [k["name"] for k in page_one["items"] + page_two["items"]]
    assert names == ["second", "first", "test"]
    assert [k["id"] for k in page_one["items"]] == [second["id"], first["id"]]
    assert page_two["next_cursor"] is None
    assert all("key" not in k for k in page_one["items"] + page_two["items"])


async def test_four_callers_on_get_key(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await make_tenant(database)
    other = await make_tenant(database)
    key = await create_key(client, tenant)
    without = await add_member(database, tenant, permissions=["identity.user.read"])
    holder = await add_member(database, tenant, permissions=["identity.api_key.read"])
    path = f"{KEYS}/{key['id']}"

    anonymous = await client.get(path)
    refused = await client.get(path, headers=without.headers)
    allowed = await client.get(path, headers=holder.headers)
    foreign = await client.get(path, headers=other.headers)

    assert anonymous.status_code == 401
    assert refused.status_code == 403
    assert allowed.status_code == 200
    assert allowed.json()["name"] == "Accounting sync"
    assert foreign.status_code == 404
    assert foreign.json()["code"] == "api_key_not_found"


async def test_revoked_key_gets_401_everywhere(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    key = await create_key(client, tenant, scopes=["identity.*"])

    response = await client.delete(f"{KEYS}/{key['id']}", headers=tenant.headers)
    again = await client.delete(f"{KEYS}/{key['id']}", headers=tenant.headers)

    assert response.status_code == 204
    assert again.status_code == 204
    for path in ("/api/v1/me", "/api/v1/identity/tenant", KEYS):
        refused = await client.get(path, headers=bearer(key["key"]))
        assert refused.status_code == 401
        assert refused.json()["code"] == "invalid_token"
    shown = (await client.get(f"{KEYS}/{key['id']}", headers=tenant.headers)).json()
    assert shown["revoked_at"] is not None
    async with database.transaction() as session:
        revocations = await session.scalar(
            select(func.count(AuditEvent.id)).where(
                AuditEvent.target_id == key["id"], AuditEvent.action == "identity.api_key.revoked"
            )
        )
    assert revocations == 1


async def test_revoke_from_another_tenant_is_404_and_the_key_keeps_working(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    other = await make_tenant(database)
    key = await create_key(client, tenant)

    response = await client.delete(f"{KEYS}/{key['id']}", headers=other.headers)

    assert response.status_code == 404
    assert response.json()["code"] == "api_key_not_found"
    assert (await client.get("/api/v1/me", headers=bearer(key["key"]))).status_code == 200


async def test_revoke_needs_manage_permission(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    key = await create_key(client, tenant)
    reader = await add_member(database, tenant, permissions=["identity.api_key.read"])

    response = await client.delete(f"{KEYS}/{key['id']}", headers=reader.headers)

    assert response.status_code == 403
    assert (await client.get("/api/v1/me", headers=bearer(key["key"]))).status_code == 200


async def test_create_refuses_bad_input_and_stores_nothing(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).isoformat()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"name": "k", "scopes": ["identity.tenant.read", "identity.nope"]}, "body.scopes.1"),
        ({"name": "k", "scopes": ["nothing.*"]}, "body.scopes.0"),
        ({"name": "k", "scopes": []}, "body.scopes"),
        ({"name": "", "scopes": ["identity.tenant.read"]}, "body.name"),
        ({"name": "k", "scopes": ["identity.tenant.read"], "expires_at": past}, "body.expires_at"),
        (
            {"name": "k", "scopes": ["identity.tenant.read"], "expires_at": "2030-01-01T00:00:00"},
            "body.expires_at",
        ),
        (
            {
                "name": "k",
                "scopes": ["identity.tenant.read"],
                "expires_at": "9999-12-31T23:00:00-05:00",
            },
            "body.expires_at",
        ),
        ({"name": "k\u0000", "scopes": ["identity.tenant.read"]}, "body.name"),
    ]

    for body, field in cases:
        response = await client.post(KEYS, json=body, headers=tenant.headers)
        assert response.status_code == 422, body
        assert [e["field"] for e in response.json()["errors"]] == [field], body

    assert await key_count(database, tenant) == 1


async def test_nobody_creates_a_key_stronger_than_themselves(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    member = await add_member(database, tenant, permissions=["identity.api_key.manage"])

    response = await client.post(
        KEYS,
        json={"name": "k", "scopes": ["identity.api_key.manage", "identity.user.invite"]},
        headers=member.headers,
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.scopes.1"
    assert await key_count(database, tenant) == 1


async def test_get_unknown_key_is_404(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await make_tenant(database)

    response = await client.get(f"{KEYS}/{uuid.uuid4()}", headers=tenant.headers)

    assert response.status_code == 404
    assert response.json()["code"] == "api_key_not_found"


async def test_a_key_stops_working_when_its_maker_is_deactivated(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    member = await add_member(
        database, tenant, permissions=["identity.api_key.manage", "identity.tenant.read"]
    )
    made = await client.post(
        KEYS,
        json={"name": "member's key", "scopes": ["identity.tenant.read"]},
        headers=member.headers,
    )
    assert made.status_code == 201
    key = made.json()["key"]
    assert (await client.get("/api/v1/identity/tenant", headers=bearer(key))).status_code == 200

    deactivated = await client.post(
        f"/api/v1/identity/users/{member.user_id}/deactivate", headers=tenant.headers
    )

    assert deactivated.status_code == 200
    refused = await client.get("/api/v1/identity/tenant", headers=bearer(key))
    assert refused.status_code == 401
    assert refused.json()["code"] == "invalid_token"
    reactivated = await client.post(
        f"/api/v1/identity/users/{member.user_id}/reactivate", headers=tenant.headers
    )
    assert reactivated.status_code == 200
    assert (await client.get("/api/v1/identity/tenant", headers=bearer(key))).status_code == 200
