"""`POST /api/v1/auth/login`: who may sign in where, throttling and audit."""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update

from nexus.core import ratelimit
from nexus.core.audit import AuditEvent
from nexus.core.db import Database, bind_tenant
from nexus.core.types import utcnow
from nexus.identity.models import ACTIVE, SUSPENDED, AuthSession, Membership, Role, Tenant, User
from nexus.identity.service import users
from tests.identity.factories import PASSWORD, TenantFixture, make_tenant, unique

LOGIN = "/api/v1/auth/login"


def fresh_address() -> str:
    octets = uuid.uuid4().bytes
    return f"10.{octets[0]}.{octets[1]}.{octets[2]}"


@contextlib.asynccontextmanager
async def client_at(app: FastAPI, address: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(address, 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://nexus.test") as http:
        yield http


@pytest.fixture
def halfway_window(monkeypatch: pytest.MonkeyPatch) -> int:
    """Stop the throttle's clock halfway through a 15-minute window, so no window ends during
    the test; the answer is the `Retry-After` that leaves (seconds)."""
    now = utcnow()
    start = now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0)
    halfway = start + dt.timedelta(minutes=7, seconds=30)
    monkeypatch.setattr(ratelimit, "utcnow", lambda: halfway)
    return 450


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Each test signs in from its own address, so one test's failures never throttle another."""
    async with client_at(app, fresh_address()) as http:
        yield http


async def join(database: Database, tenant: TenantFixture, user_id: uuid.UUID) -> None:
    """Make an existing user an active staff member of `tenant`."""
    async with database.transaction(tenant_id=tenant.tenant_id) as session:
        await bind_tenant(session, tenant.tenant_id)
        role = (await session.scalars(select(Role).where(Role.key == "staff"))).one()
        session.add(
            Membership(tenant_id=tenant.tenant_id, user_id=user_id, role_id=role.id, status=ACTIVE)
        )


async def audit_actions(database: Database, user_id: uuid.UUID) -> list[str]:
    async with database.transaction() as session:
        rows = await session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.target_id == str(user_id))
            .order_by(AuditEvent.occurred_at, AuditEvent.id)
        )
        return list(rows)


async def session_count(database: Database, user_id: uuid.UUID) -> int:
    async with database.transaction() as session:
        count = await session.scalar(
            select(func.count()).select_from(AuthSession).where(AuthSession.user_id == user_id)
        )
        return int(count or 0)


async def test_login_with_one_membership_signs_in_to_it(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)

    response = await client.post(LOGIN, json={"email": tenant.owner.email, "password": PASSWORD})

    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert body["tenant_id"] == str(tenant.tenant_id)
    assert body["tenant_slug"] == tenant.slug
    assert body["refresh_token"].startswith("nxr_")
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["tenant_slug"] == tenant.slug
    assert me.json()["role"] == "owner"
    assert await audit_actions(database, tenant.owner.user_id) == ["identity.auth.login"]


async def test_login_email_is_case_insensitive(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)

    response = await client.post(
        LOGIN, json={"email": f"  {tenant.owner.email.upper()} ", "password": PASSWORD}
    )

    assert response.status_code == 200
    assert response.json()["tenant_id"] == str(tenant.tenant_id)


async def test_login_wrong_password_is_invalid_credentials_and_audited(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)

    response = await client.post(
        LOGIN, json={"email": tenant.owner.email, "password": "not the password at all"}
    )

    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "invalid_credentials"
    assert await audit_actions(database, tenant.owner.user_id) == ["identity.auth.login_failed"]
    async with database.transaction() as session:
        event = (
            await session.scalars(
                select(AuditEvent).where(AuditEvent.target_id == str(tenant.owner.user_id))
            )
        ).one()
    assert (event.actor_id, event.tenant_id, event.changes) == (tenant.owner.user_id, None, [])
    assert event.client_address is not None
    assert event.client_address.startswith("10.")
    assert await session_count(database, tenant.owner.user_id) == 1  # the factory's only


async def test_login_unknown_email_is_the_same_invalid_credentials(
    app: FastAPI, database: Database
) -> None:
    email = f"{unique('nobody')}@example.com"
    address = fresh_address()

    async with client_at(app, address) as client:
        response = await client.post(LOGIN, json={"email": email, "password": PASSWORD})

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"
    assert response.json()["title"] == "The email or password is wrong"
    async with database.transaction() as session:
        failed = await session.execute(
            select(AuditEvent.actor_id, AuditEvent.target_id).where(
                AuditEvent.action == "identity.auth.login_failed",
                AuditEvent.client_address == address,
            )
        )
    assert list(failed) == [(None, None)]


async def test_login_of_deactivated_user_is_invalid_credentials(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    async with database.transaction() as session:
        await session.execute(
            update(User).where(User.id == tenant.owner.user_id).values(is_active=False)
        )

    response = await client.post(LOGIN, json={"email": tenant.owner.email, "password": PASSWORD})

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"
    assert await session_count(database, tenant.owner.user_id) == 1


async def test_login_to_a_tenant_without_membership_is_invalid_credentials(
    client: httpx.AsyncClient, database: Database
) -> None:
    mine = await make_tenant(database)
    other = await make_tenant(database)

    response = await client.post(
        LOGIN, json={"email": mine.owner.email, "password": PASSWORD, "tenant": other.slug}
    )

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"
    assert await session_count(database, mine.owner.user_id) == 1


async def test_login_with_several_memberships_needs_the_tenant(
    client: httpx.AsyncClient, database: Database
) -> None:
    first = await make_tenant(database)
    second = await make_tenant(database)
    await join(database, second, first.owner.user_id)

    response = await client.post(LOGIN, json={"email": first.owner.email, "password": PASSWORD})

    assert response.status_code == 422
    assert response.json()["code"] == "tenant_required"
    assert response.json()["tenants"] == sorted([first.slug, second.slug])
    assert await session_count(database, first.owner.user_id) == 1


async def test_login_with_several_memberships_and_wrong_password_lists_nothing(
    client: httpx.AsyncClient, database: Database
) -> None:
    first = await make_tenant(database)
    second = await make_tenant(database)
    await join(database, second, first.owner.user_id)

    response = await client.post(
        LOGIN, json={"email": first.owner.email, "password": "not the password at all"}
    )

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"
    assert "tenants" not in response.json()


async def test_login_names_one_of_several_tenants(
    client: httpx.AsyncClient, database: Database
) -> None:
    first = await make_tenant(database)
    second = await make_tenant(database)
    await join(database, second, first.owner.user_id)

    response = await client.post(
        LOGIN, json={"email": first.owner.email, "password": PASSWORD, "tenant": second.slug}
    )

    assert response.status_code == 200
    assert response.json()["tenant_slug"] == second.slug
    me = await client.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {response.json()['access_token']}"}
    )
    assert me.json()["role"] == "staff"


async def test_operator_without_memberships_gets_a_platform_token(
    client: httpx.AsyncClient, database: Database
) -> None:
    email = f"{unique('operator')}@example.com"
    async with database.transaction() as session:
        await users.create_user(session, email=email, password=PASSWORD, platform_role="operator")

    response = await client.post(LOGIN, json={"email": email, "password": PASSWORD})

    assert response.status_code == 200
    assert response.json()["tenant_id"] is None
    assert response.json()["tenant_slug"] is None
    me = await client.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {response.json()['access_token']}"}
    )
    assert me.json()["platform_role"] == "operator"
    assert me.json()["tenant_id"] is None


async def test_user_without_memberships_cannot_sign_in(
    client: httpx.AsyncClient, database: Database
) -> None:
    email = f"{unique('loner')}@example.com"
    async with database.transaction() as session:
        user = await users.create_user(session, email=email, password=PASSWORD)

    response = await client.post(LOGIN, json={"email": email, "password": PASSWORD})

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"
    assert await session_count(database, user.id) == 0


async def test_login_to_a_suspended_tenant_is_403(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    async with database.transaction() as session:
        await session.execute(
            update(Tenant).where(Tenant.id == tenant.tenant_id).values(status=SUSPENDED)
        )

    response = await client.post(LOGIN, json={"email": tenant.owner.email, "password": PASSWORD})

    assert response.status_code == 403
    assert response.json()["code"] == "tenant_suspended"
    assert await session_count(database, tenant.owner.user_id) == 1


async def test_login_body_rejects_unknown_fields(client: httpx.AsyncClient) -> None:
    response = await client.post(
        LOGIN, json={"email": "a@example.com", "password": PASSWORD, "remember": True}
    )

    assert response.status_code == 422
    assert response.json()["code"] == "validation_failed"
    assert response.json()["errors"][0]["field"] == "body.remember"


async def test_five_failures_lock_the_account_even_for_the_right_password(
    client: httpx.AsyncClient, database: Database, halfway_window: int
) -> None:
    tenant = await make_tenant(database)
    wrong = {"email": tenant.owner.email, "password": "not the password at all"}
    for _ in range(5):
        assert (await client.post(LOGIN, json=wrong)).status_code == 401

    response = await client.post(LOGIN, json={"email": tenant.owner.email, "password": PASSWORD})

    assert response.status_code == 429
    assert response.json()["code"] == "too_many_requests"
    assert response.headers["retry-after"] == str(halfway_window)
    assert await session_count(database, tenant.owner.user_id) == 1
    assert await audit_actions(database, tenant.owner.user_id) == ["identity.auth.login_failed"] * 5


async def test_the_account_throttle_follows_the_account_not_the_address(
    app: FastAPI, client: httpx.AsyncClient, database: Database, halfway_window: int
) -> None:
    tenant = await make_tenant(database)
    wrong = {"email": tenant.owner.email, "password": "not the password at all"}
    for _ in range(5):
        await client.post(LOGIN, json=wrong)
    async with client_at(app, fresh_address()) as elsewhere:
        response = await elsewhere.post(
            LOGIN, json={"email": tenant.owner.email, "password": PASSWORD}
        )

    assert response.status_code == 429


async def test_thirty_failures_from_one_address_lock_that_address(
    app: FastAPI, client: httpx.AsyncClient, database: Database, halfway_window: int
) -> None:
    tenant = await make_tenant(database)
    async with client_at(app, f"198.51.100.{uuid.uuid4().bytes[0] % 250 + 1}") as attacker:
        for n in range(30):
            email = f"{unique(f'guess{n}')}@example.com"
            failed = await attacker.post(LOGIN, json={"email": email, "password": PASSWORD})
            assert failed.status_code == 401

        refused = await attacker.post(
            LOGIN, json={"email": tenant.owner.email, "password": PASSWORD}
        )

    assert refused.status_code == 429
    assert refused.headers["retry-after"] == str(halfway_window)
    from_elsewhere = await client.post(
        LOGIN, json={"email": tenant.owner.email, "password": PASSWORD}
    )
    assert from_elsewhere.status_code == 200


async def test_a_nul_character_in_the_email_is_a_422_naming_it(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/login", json={"email": "a\u0000b@example.com", "password": "x"}
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.email"
