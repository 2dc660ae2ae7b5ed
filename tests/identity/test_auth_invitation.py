"""Accepting an invitation: the invited membership turns active and the person is signed in."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx
import pyotp
from sqlalchemy import select, update

from nexus.core.db import Database, bind_tenant
from nexus.core.types import utcnow
from nexus.identity.models import INVITED, SUSPENDED, Membership, Role, Tenant, User
from nexus.identity.service import tokens, users
from tests.identity.factories import PASSWORD, TenantFixture, make_tenant, unique

ACCEPT = "/api/v1/auth/accept-invitation"
NEW_PASSWORD = "a brand new long passphrase"


@dataclass(frozen=True)
class Invitation:
    user_id: uuid.UUID
    email: str
    token: str


async def invite(
    database: Database, tenant: TenantFixture, *, password: str | None = None
) -> Invitation:
    """What the invitation side leaves: a user, an invited membership and a mailed token."""
    email = f"{unique('invitee')}@example.com"
    async with database.transaction(tenant_id=tenant.tenant_id) as session:
        await bind_tenant(session, tenant.tenant_id)
        user = await users.create_user(session, email=email, password=password)
        role = (await session.scalars(select(Role).where(Role.key == "staff"))).one()
        session.add(
            Membership(
                tenant_id=tenant.tenant_id,
                user_id=user.id,
                role_id=role.id,
                status=INVITED,
                invited_by=tenant.owner.user_id,
            )
        )
        await session.flush()
        token = await tokens.issue_user_token(
            session, user_id=user.id, purpose=tokens.INVITATION, tenant_id=tenant.tenant_id
        )
    return Invitation(user.id, email, token)


async def membership_status(database: Database, tenant: TenantFixture, user_id: uuid.UUID) -> str:
    async with database.transaction() as session:
        status = await session.scalar(
            select(Membership.status).where(
                Membership.tenant_id == tenant.tenant_id, Membership.user_id == user_id
            )
        )
        assert status is not None
        return status


async def user_row(database: Database, user_id: uuid.UUID) -> User:
    async with database.transaction() as session:
        user = await session.get(User, user_id)
        assert user is not None
        return user


async def test_a_new_person_sets_name_and_password_and_is_signed_in(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    invitation = await invite(database, tenant)

    response = await client.post(
        ACCEPT,
        json={"token": invitation.token, "name": "Bola Adeyemi", "password": NEW_PASSWORD},
    )

    assert response.status_code == 200
    body = response.json()
    assert body["tenant_id"] == str(tenant.tenant_id)
    assert body["tenant_slug"] == tenant.slug
    assert body["token_type"] == "Bearer"
    assert body["challenge_token"] is None
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json()["role"] == "staff"
    assert me.json()["name"] == "Bola Adeyemi"
    assert await membership_status(database, tenant, invitation.user_id) == "active"
    assert (await user_row(database, invitation.user_id)).email_verified_at is not None
    login = await client.post(
        "/api/v1/auth/login", json={"email": invitation.email, "password": NEW_PASSWORD}
    )
    assert login.status_code == 200


async def test_a_new_person_must_choose_a_password(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    invitation = await invite(database, tenant)

    response = await client.post(ACCEPT, json={"token": invitation.token, "name": "Bola"})

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.password"
    assert response.json()["errors"][0]["code"] == "password_required"
    assert await membership_status(database, tenant, invitation.user_id) == "invited"
    user = await user_row(database, invitation.user_id)
    assert (user.password_hash, user.email_verified_at) == (None, None)


async def test_a_short_password_is_refused_and_the_invitation_stays_open(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    invitation = await invite(database, tenant)

    refused = await client.post(
        ACCEPT, json={"token": invitation.token, "name": "Bola", "password": "short"}
    )
    accepted = await client.post(
        ACCEPT, json={"token": invitation.token, "name": "Bola", "password": NEW_PASSWORD}
    )

    assert refused.status_code == 422
    assert refused.json()["errors"][0]["code"] == "password_too_short"
    assert accepted.status_code == 200


async def test_someone_with_a_password_joins_without_sending_one(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    invitation = await invite(database, tenant, password=PASSWORD)

    response = await client.post(ACCEPT, json={"token": invitation.token, "name": "Bola"})

    assert response.status_code == 200
    assert response.json()["tenant_slug"] == tenant.slug
    assert await membership_status(database, tenant, invitation.user_id) == "active"
    login = await client.post(
        "/api/v1/auth/login", json={"email": invitation.email, "password": PASSWORD}
    )
    assert login.status_code == 200


async def test_someone_with_a_password_may_not_send_another(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    invitation = await invite(database, tenant, password=PASSWORD)

    response = await client.post(
        ACCEPT, json={"token": invitation.token, "name": "Bola", "password": NEW_PASSWORD}
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "password_already_set"
    assert await membership_status(database, tenant, invitation.user_id) == "invited"
    login = await client.post(
        "/api/v1/auth/login", json={"email": invitation.email, "password": NEW_PASSWORD}
    )
    assert login.status_code == 401


async def test_an_invitation_token_works_once(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    invitation = await invite(database, tenant)
    body = {"token": invitation.token, "name": "Bola", "password": NEW_PASSWORD}
    assert (await client.post(ACCEPT, json=body)).status_code == 200

    again = await client.post(ACCEPT, json=body)

    assert again.status_code == 401
    assert again.json()["code"] == "invalid_token"


async def test_a_withdrawn_invitation_cannot_be_accepted(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    invitation = await invite(database, tenant)
    async with database.transaction() as session:
        await session.execute(
            update(Membership)
            .where(Membership.user_id == invitation.user_id)
            .values(status="deactivated")
        )

    response = await client.post(
        ACCEPT, json={"token": invitation.token, "name": "Bola", "password": NEW_PASSWORD}
    )

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"
    assert await membership_status(database, tenant, invitation.user_id) == "deactivated"
    assert (await user_row(database, invitation.user_id)).password_hash is None


async def test_an_invitation_to_a_suspended_business_is_403(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    invitation = await invite(database, tenant)
    async with database.transaction() as session:
        await session.execute(
            update(Tenant).where(Tenant.id == tenant.tenant_id).values(status=SUSPENDED)
        )

    response = await client.post(
        ACCEPT, json={"token": invitation.token, "name": "Bola", "password": NEW_PASSWORD}
    )

    assert response.status_code == 403
    assert response.json()["code"] == "tenant_suspended"
    assert await membership_status(database, tenant, invitation.user_id) == "invited"


async def test_a_reset_token_is_not_an_invitation(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    invitation = await invite(database, tenant)
    async with database.transaction() as session:
        reset = await tokens.issue_user_token(
            session, user_id=invitation.user_id, purpose=tokens.RESET_PASSWORD
        )

    response = await client.post(
        ACCEPT, json={"token": reset, "name": "Bola", "password": NEW_PASSWORD}
    )

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"
    assert await membership_status(database, tenant, invitation.user_id) == "invited"


async def test_someone_with_totp_on_gets_a_challenge_instead_of_tokens(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    invitation = await invite(database, tenant, password=PASSWORD)
    secret = pyotp.random_base32()
    async with database.transaction() as session:
        await session.execute(
            update(User)
            .where(User.id == invitation.user_id)
            .values(
                mfa_secret_encrypted=database.keyring.encrypt(secret.encode()),
                mfa_enabled_at=utcnow(),
            )
        )

    response = await client.post(ACCEPT, json={"token": invitation.token, "name": "Bola"})

    assert response.status_code == 200
    assert response.json()["access_token"] is None
    assert await membership_status(database, tenant, invitation.user_id) == "active"
    verified = await client.post(
        "/api/v1/auth/mfa/verify",
        json={
            "challenge_token": response.json()["challenge_token"],
            "code": pyotp.TOTP(secret).now(),
        },
    )
    assert verified.status_code == 200
    assert verified.json()["tenant_slug"] == tenant.slug
