from __future__ import annotations

import datetime as dt
from typing import Any

import httpx

from nexus.core.db import Database
from tests.identity.factories import TenantFixture, add_member, make_tenant, unique

AUDIT = "/api/v1/identity/audit-events"


async def events(
    client: httpx.AsyncClient, tenant: TenantFixture, **params: Any
) -> list[dict[str, Any]]:
    response = await client.get(AUDIT, params=params, headers=tenant.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def busy_tenant(client: httpx.AsyncClient, database: Database) -> TenantFixture:
    """A tenant with a few audited changes: two invitations and a branch."""
    tenant = await make_tenant(database)
    for _ in range(2):
        response = await client.post(
            "/api/v1/identity/users",
            json={"email": f"{unique('audited')}@example.com", "role": "staff"},
            headers=tenant.headers,
        )
        assert response.status_code == 201
    response = await client.post(
        "/api/v1/identity/branches",
        json={"name": "Shop", "code": unique("S")[:20]},
        headers=tenant.headers,
    )
    assert response.status_code == 201
    return tenant


async def test_newest_first_and_only_this_tenant(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await busy_tenant(client, database)
    other = await busy_tenant(client, database)

    items = await events(client, tenant)

    assert [e["action"] for e in items] == [
        "identity.branch.created",
        "identity.user.invited",
        "identity.user.invited",
        "identity.api_key.created",
        "identity.tenant.created",
    ]
    assert {e["id"] for e in items}.isdisjoint({e["id"] for e in await events(client, other)})
    newest = items[0]
    assert newest["actor_type"] == "user"
    assert newest["actor_id"] == str(tenant.owner.user_id)
    assert newest["target_type"] == "branch"
    assert newest["client_address"] == "203.0.113.7"
    assert newest["request_id"]
    assert newest["changes"] == ["code", "is_headquarters", "name"]


async def test_action_filter_exact_and_prefix(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await busy_tenant(client, database)

    exact = await events(client, tenant, action="identity.user.invited")
    prefix = await events(client, tenant, action="identity.user.*")
    wildcard_text = await events(client, tenant, action="%")
    underscore = await events(client, tenant, action="identity.api_key*")
    no_match = await events(client, tenant, action="identity.api?key*")

    assert [e["action"] for e in exact] == ["identity.user.invited"] * 2
    assert [e["action"] for e in prefix] == ["identity.user.invited"] * 2
    assert wildcard_text == []
    assert [e["action"] for e in underscore] == ["identity.api_key.created"]
    assert no_match == []


async def test_actor_filter(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await make_tenant(database)
    admin = await add_member(database, tenant, role="admin")
    await client.post(
        "/api/v1/identity/branches", json={"name": "A", "code": "A1"}, headers=admin.headers
    )
    await client.post(
        "/api/v1/identity/branches", json={"name": "B", "code": "B1"}, headers=tenant.headers
    )

    items = await events(client, tenant, actor_id=str(admin.user_id))

    assert [(e["action"], e["actor_id"]) for e in items] == [
        ("identity.branch.created", str(admin.user_id))
    ]


async def test_since_and_until(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await busy_tenant(client, database)
    everything = await events(client, tenant)
    middle = everything[2]["occurred_at"]

    since = await events(client, tenant, since=middle)
    until = await events(client, tenant, until=middle)

    assert [e["id"] for e in since] == [e["id"] for e in everything[:3]]
    assert [e["id"] for e in until] == [e["id"] for e in everything[3:]]


async def test_naive_or_bad_times_are_422(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await make_tenant(database)

    naive = await client.get(AUDIT, params={"since": "2026-01-01T00:00:00"}, headers=tenant.headers)
    garbage = await client.get(AUDIT, params={"until": "yesterday"}, headers=tenant.headers)
    ancient = await client.get(
        AUDIT, params={"since": "0001-01-01T00:00:00+14:00"}, headers=tenant.headers
    )

    assert naive.status_code == 422
    assert [e["field"] for e in naive.json()["errors"]] == ["query.since"]
    assert garbage.status_code == 422
    assert [e["field"] for e in garbage.json()["errors"]] == ["query.until"]
    assert ancient.status_code == 422
    assert [e["field"] for e in ancient.json()["errors"]] == ["query.since"]


async def test_pages_through_the_log(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await busy_tenant(client, database)
    everything = await events(client, tenant)
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get(AUDIT, params=params, headers=tenant.headers)).json()
        seen.extend(e["id"] for e in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == [e["id"] for e in everything]
    assert len(seen) == 5


async def test_four_callers(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await busy_tenant(client, database)
    other = await make_tenant(database)
    staff = await add_member(database, tenant, role="staff")
    manager = await add_member(database, tenant, role="manager")

    anonymous = await client.get(AUDIT)
    refused = await client.get(AUDIT, headers=staff.headers)
    allowed = await client.get(AUDIT, headers=manager.headers)
    foreign = await client.get(AUDIT, headers=other.headers)

    assert anonymous.status_code == 401
    assert refused.status_code == 403
    assert allowed.status_code == 200
    assert len(allowed.json()["items"]) == 5
    assert [e["action"] for e in foreign.json()["items"]] == [
        "identity.api_key.created",
        "identity.tenant.created",
    ]


async def test_since_in_the_future_is_empty(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await make_tenant(database)
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()

    assert await events(client, tenant, since=later) == []
