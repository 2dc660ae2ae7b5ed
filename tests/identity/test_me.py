from __future__ import annotations

import httpx
from sqlalchemy import event

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


class SelectCounter:
    """Counts the SELECT statements sent on an engine while active."""

    def __init__(self, database: Database) -> None:
        self.engines = {database.engine.sync_engine, database.read_engine.sync_engine}
        self.statements: list[str] = []
        #: `SELECT set_config(...)` alone: the tenant put on a PostgreSQL transaction.
        self.tenant_settings: list[str] = []

    def _record(self, conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        text = statement.lstrip().upper()
        if text.startswith("SELECT SET_CONFIG("):
            self.tenant_settings.append(statement)
        elif text.startswith("SELECT"):
            self.statements.append(statement)

    def __enter__(self) -> SelectCounter:
        for engine in self.engines:
            event.listen(engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *_: object) -> None:
        for engine in self.engines:
            event.remove(engine, "before_cursor_execute", self._record)


async def test_me_with_api_key_costs_one_select(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    headers = {"Authorization": f"Bearer {tenant.api_key}"}
    await client.get("/api/v1/me", headers=headers)  # the first use records last_used_at

    with SelectCounter(database) as counter:
        response = await client.get("/api/v1/me", headers=headers)

    assert response.status_code == 200
    # The key's lookup reads what /me shows of the user and the business with the key.
    assert len(counter.statements) == 1, counter.statements
    # On PostgreSQL the key's lookup itself puts its tenant on the transaction.
    assert counter.tenant_settings == []


async def test_me_with_access_token_costs_two_selects(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)

    with SelectCounter(database) as counter:
        response = await client.get("/api/v1/me", headers=tenant.headers)

    assert response.status_code == 200
    assert len(counter.statements) == 2, counter.statements  # the caller, their memberships
    assert counter.tenant_settings == []  # the token's session lookup sets the tenant
