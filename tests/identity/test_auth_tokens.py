"""Refresh-token rotation and reuse, sign-out, switching business, permission checks."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select, update

from nexus.core.db import Database, bind_tenant
from nexus.core.registry import Module, Permission, registry
from nexus.identity.models import ACTIVE, SUSPENDED, AuthSession, Membership, Role, Tenant
from tests.identity.factories import PASSWORD, TenantFixture, add_member, make_tenant, unique

AUTH = "/api/v1/auth"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def join(database: Database, tenant: TenantFixture, user_id: uuid.UUID) -> None:
    async with database.transaction(tenant_id=tenant.tenant_id) as session:
        await bind_tenant(session, tenant.tenant_id)
        role = (await session.scalars(select(Role).where(Role.key == "staff"))).one()
        session.add(
            Membership(tenant_id=tenant.tenant_id, user_id=user_id, role_id=role.id, status=ACTIVE)
        )


async def sessions_of(database: Database, user_id: uuid.UUID) -> list[AuthSession]:
    async with database.transaction() as session:
        rows = await session.scalars(
            select(AuthSession).where(AuthSession.user_id == user_id).order_by(AuthSession.id)
        )
        return list(rows)


# --- refresh -------------------------------------------------------------------------------


async def test_refresh_rotates_the_pair(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await make_tenant(database)

    response = await client.post(
        f"{AUTH}/refresh", json={"refresh_token": tenant.owner.refresh_token}
    )

    assert response.status_code == 200
    body = response.json()
    assert body["refresh_token"] != tenant.owner.refresh_token
    assert body["tenant_id"] == str(tenant.tenant_id)
    assert body["tenant_slug"] == tenant.slug
    assert body["expires_in"] == 900
    me = await client.get("/api/v1/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200
    again = await client.post(f"{AUTH}/refresh", json={"refresh_token": body["refresh_token"]})
    assert again.status_code == 200
    assert len(await sessions_of(database, tenant.owner.user_id)) == 1


async def test_reusing_a_refresh_token_revokes_the_whole_family(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    rotated = await client.post(
        f"{AUTH}/refresh", json={"refresh_token": tenant.owner.refresh_token}
    )
    newest = rotated.json()
    assert (await client.get("/api/v1/me", headers=bearer(newest["access_token"]))).status_code == (
        200
    )

    reused = await client.post(
        f"{AUTH}/refresh", json={"refresh_token": tenant.owner.refresh_token}
    )

    assert reused.status_code == 401
    assert reused.json()["code"] == "refresh_token_reused"
    me = await client.get("/api/v1/me", headers=bearer(newest["access_token"]))
    assert me.status_code == 401
    assert me.json()["code"] == "invalid_token"
    first_access = await client.get("/api/v1/me", headers=tenant.headers)
    assert first_access.status_code == 401
    newest_refresh = await client.post(
        f"{AUTH}/refresh", json={"refresh_token": newest["refresh_token"]}
    )
    assert newest_refresh.status_code == 401
    assert newest_refresh.json()["code"] == "invalid_token"
    [family] = await sessions_of(database, tenant.owner.user_id)
    assert family.revoked_reason == "refresh_token_reused"


async def test_reuse_revokes_only_that_family(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    other = await client.post(
        f"{AUTH}/login", json={"email": tenant.owner.email, "password": PASSWORD}
    )
    await client.post(f"{AUTH}/refresh", json={"refresh_token": tenant.owner.refresh_token})

    await client.post(f"{AUTH}/refresh", json={"refresh_token": tenant.owner.refresh_token})

    me = await client.get("/api/v1/me", headers=bearer(other.json()["access_token"]))
    assert me.status_code == 200


async def test_unknown_refresh_token_is_invalid(client: httpx.AsyncClient) -> None:
    response = await client.post(f"{AUTH}/refresh", json={"refresh_token": "nxr_not-a-token"})

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


async def test_refresh_of_a_suspended_tenant_is_403(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    async with database.transaction() as session:
        await session.execute(
            update(Tenant).where(Tenant.id == tenant.tenant_id).values(status=SUSPENDED)
        )

    response = await client.post(
        f"{AUTH}/refresh", json={"refresh_token": tenant.owner.refresh_token}
    )

    assert response.status_code == 403
    assert response.json()["code"] == "tenant_suspended"
    still_usable = await client.post(
        f"{AUTH}/refresh", json={"refresh_token": tenant.owner.refresh_token}
    )
    assert still_usable.json()["code"] == "tenant_suspended"  # not "refresh_token_reused"


# --- logout --------------------------------------------------------------------------------


async def test_logout_revokes_this_session_only(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    other = await client.post(
        f"{AUTH}/login", json={"email": tenant.owner.email, "password": PASSWORD}
    )

    response = await client.post(f"{AUTH}/logout", headers=tenant.headers)

    assert response.status_code == 204
    assert response.content == b""
    assert (await client.get("/api/v1/me", headers=tenant.headers)).status_code == 401
    refresh = await client.post(
        f"{AUTH}/refresh", json={"refresh_token": tenant.owner.refresh_token}
    )
    assert refresh.status_code == 401
    assert refresh.json()["code"] == "invalid_token"
    me = await client.get("/api/v1/me", headers=bearer(other.json()["access_token"]))
    assert me.status_code == 200
    revoked = [s.revoked_reason for s in await sessions_of(database, tenant.owner.user_id)]
    assert sorted(revoked, key=str) == sorted(["logout", None], key=str)


async def test_logout_with_an_api_key_is_refused(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)

    response = await client.post(f"{AUTH}/logout", headers=bearer(tenant.api_key))

    assert response.status_code == 422
    assert response.json()["code"] == "user_session_required"
    assert (await client.get("/api/v1/me", headers=bearer(tenant.api_key))).status_code == 200


async def test_logout_anonymous_is_401(client: httpx.AsyncClient) -> None:
    response = await client.post(f"{AUTH}/logout")

    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"


# --- switch-tenant -------------------------------------------------------------------------


async def test_switch_tenant_gives_a_pair_for_the_other_business(
    client: httpx.AsyncClient, database: Database
) -> None:
    first = await make_tenant(database)
    second = await make_tenant(database)
    await join(database, second, first.owner.user_id)

    response = await client.post(
        f"{AUTH}/switch-tenant", json={"tenant": second.slug}, headers=first.headers
    )

    assert response.status_code == 200
    assert response.json()["tenant_id"] == str(second.tenant_id)
    assert response.json()["tenant_slug"] == second.slug
    me = await client.get("/api/v1/me", headers=bearer(response.json()["access_token"]))
    assert me.json()["tenant_slug"] == second.slug
    assert me.json()["role"] == "staff"
    assert (await client.get("/api/v1/me", headers=first.headers)).json()["role"] == "owner"
    assert len(await sessions_of(database, first.owner.user_id)) == 2


async def test_switch_to_a_business_one_is_not_in_is_404(
    client: httpx.AsyncClient, database: Database
) -> None:
    mine = await make_tenant(database)
    other = await make_tenant(database)

    response = await client.post(
        f"{AUTH}/switch-tenant", json={"tenant": other.slug}, headers=mine.headers
    )

    assert response.status_code == 404
    assert response.json()["code"] == "tenant_not_found"
    assert len(await sessions_of(database, mine.owner.user_id)) == 1


async def test_switch_to_a_business_where_one_is_only_invited_is_404(
    client: httpx.AsyncClient, database: Database
) -> None:
    mine = await make_tenant(database)
    other = await make_tenant(database)
    await join(database, other, mine.owner.user_id)
    async with database.transaction() as session:
        await session.execute(
            update(Membership)
            .where(
                Membership.tenant_id == other.tenant_id, Membership.user_id == mine.owner.user_id
            )
            .values(status="invited")
        )

    response = await client.post(
        f"{AUTH}/switch-tenant", json={"tenant": other.slug}, headers=mine.headers
    )

    assert response.status_code == 404
    assert response.json()["code"] == "tenant_not_found"


async def test_switch_to_a_suspended_business_is_403(
    client: httpx.AsyncClient, database: Database
) -> None:
    first = await make_tenant(database)
    second = await make_tenant(database)
    await join(database, second, first.owner.user_id)
    async with database.transaction() as session:
        await session.execute(
            update(Tenant).where(Tenant.id == second.tenant_id).values(status=SUSPENDED)
        )

    response = await client.post(
        f"{AUTH}/switch-tenant", json={"tenant": second.slug}, headers=first.headers
    )

    assert response.status_code == 403
    assert response.json()["code"] == "tenant_suspended"
    assert len(await sessions_of(database, first.owner.user_id)) == 1


async def test_switch_tenant_with_an_api_key_is_refused(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)

    response = await client.post(
        f"{AUTH}/switch-tenant", json={"tenant": tenant.slug}, headers=bearer(tenant.api_key)
    )

    assert response.status_code == 422
    assert response.json()["code"] == "user_session_required"


# --- check ---------------------------------------------------------------------------------


@pytest.fixture
def extra_module() -> Iterator[str]:
    """A module the test tenants have not enabled, with one permission."""
    name = unique("shop").replace("-", "_")
    registry.modules[name] = Module(
        name=name, title="Shop", permissions=(Permission(f"{name}.order.read", "See orders"),)
    )
    yield name
    del registry.modules[name]


async def check(client: httpx.AsyncClient, headers: dict[str, str], permission: str) -> object:
    response = await client.post(f"{AUTH}/check", json={"permission": permission}, headers=headers)
    assert response.status_code == 200
    return response.json()


async def test_check_granted_by_role(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await make_tenant(database)

    verdict = await check(client, tenant.headers, "identity.user.invite")

    assert verdict == {"allowed": True, "reason": "granted by role owner"}


async def test_check_not_granted_by_role(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await make_tenant(database)
    staff = await add_member(database, tenant, role="staff")

    verdict = await check(client, staff.headers, "identity.role.manage")

    assert verdict == {"allowed": False, "reason": "not granted by role staff"}


async def test_check_unknown_permission(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await make_tenant(database)

    verdict = await check(client, tenant.headers, "identity.nothing.here")

    assert verdict == {"allowed": False, "reason": "unknown permission"}


async def test_check_module_not_enabled(
    client: httpx.AsyncClient, database: Database, extra_module: str
) -> None:
    tenant = await make_tenant(database)

    verdict = await check(client, tenant.headers, f"{extra_module}.order.read")

    assert verdict == {"allowed": False, "reason": f"module {extra_module} is not enabled"}


async def test_check_with_an_api_key(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await make_tenant(database)

    verdict = await check(client, bearer(tenant.api_key), "identity.audit.read")

    assert verdict == {"allowed": True, "reason": "granted by the API key's scopes"}


async def test_check_anonymous_is_401(client: httpx.AsyncClient) -> None:
    response = await client.post(f"{AUTH}/check", json={"permission": "identity.user.read"})

    assert response.status_code == 401
