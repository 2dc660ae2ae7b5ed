"""Confirming an e-mail address with a mailed link."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import update

from nexus.core.db import Database
from nexus.core.types import utcnow
from nexus.core.worker import Worker
from nexus.identity.models import User
from tests.identity.factories import make_tenant
from tests.mailbox import Mailbox

AUTH = "/api/v1/auth"


async def verified_at(database: Database, user_id: uuid.UUID) -> object:
    async with database.transaction() as session:
        user = await session.get(User, user_id)
        assert user is not None
        return user.email_verified_at


async def test_request_mails_a_link_that_confirms_the_address(
    client: httpx.AsyncClient, database: Database, worker: Worker, mailbox: Mailbox
) -> None:
    tenant = await make_tenant(database)

    response = await client.post(f"{AUTH}/verify-email/request", headers=tenant.headers)

    assert response.status_code == 202
    assert response.json() == {"message": "We sent you a link to confirm your e-mail address"}
    await worker.run_until_idle()
    mail = mailbox.last_to(tenant.owner.email)
    assert mail["Subject"] == "Confirm your e-mail address"
    body = mail.get_body(("plain",))
    assert body is not None
    assert "http://nexus.test/verify-email?token=" in body.get_content()
    assert await verified_at(database, tenant.owner.user_id) is None

    confirmed = await client.post(
        f"{AUTH}/verify-email", json={"token": mailbox.token_in_last(tenant.owner.email)}
    )

    assert confirmed.status_code == 200
    assert confirmed.json()["email"] == tenant.owner.email
    assert await verified_at(database, tenant.owner.user_id) is not None


async def test_a_verification_token_works_once(
    client: httpx.AsyncClient, database: Database, worker: Worker, mailbox: Mailbox
) -> None:
    tenant = await make_tenant(database)
    await client.post(f"{AUTH}/verify-email/request", headers=tenant.headers)
    await worker.run_until_idle()
    token = mailbox.token_in_last(tenant.owner.email)
    assert (await client.post(f"{AUTH}/verify-email", json={"token": token})).status_code == 200

    again = await client.post(f"{AUTH}/verify-email", json={"token": token})

    assert again.status_code == 401
    assert again.json()["code"] == "invalid_token"


async def test_a_newer_request_voids_the_older_link(
    client: httpx.AsyncClient, database: Database, worker: Worker, mailbox: Mailbox
) -> None:
    tenant = await make_tenant(database)
    await client.post(f"{AUTH}/verify-email/request", headers=tenant.headers)
    await worker.run_until_idle()
    older = mailbox.token_in_last(tenant.owner.email)
    await client.post(f"{AUTH}/verify-email/request", headers=tenant.headers)
    await worker.run_until_idle()

    response = await client.post(f"{AUTH}/verify-email", json={"token": older})

    assert response.status_code == 401
    assert await verified_at(database, tenant.owner.user_id) is None


async def test_request_when_already_confirmed_sends_nothing(
    client: httpx.AsyncClient, database: Database, worker: Worker, mailbox: Mailbox
) -> None:
    tenant = await make_tenant(database)
    async with database.transaction() as session:
        await session.execute(
            update(User).where(User.id == tenant.owner.user_id).values(email_verified_at=utcnow())
        )

    response = await client.post(f"{AUTH}/verify-email/request", headers=tenant.headers)

    assert response.status_code == 202
    assert response.json() == {"message": "Your e-mail address is already confirmed"}
    await worker.run_until_idle()
    assert mailbox.to(tenant.owner.email) == []


async def test_request_with_an_api_key_is_refused(
    client: httpx.AsyncClient, database: Database, worker: Worker, mailbox: Mailbox
) -> None:
    tenant = await make_tenant(database)

    response = await client.post(
        f"{AUTH}/verify-email/request", headers={"Authorization": f"Bearer {tenant.api_key}"}
    )

    assert response.status_code == 422
    assert response.json()["code"] == "user_session_required"
    await worker.run_until_idle()
    assert mailbox.to(tenant.owner.email) == []


async def test_request_anonymous_is_401(client: httpx.AsyncClient) -> None:
    response = await client.post(f"{AUTH}/verify-email/request")

    assert response.status_code == 401


async def test_verify_with_an_unknown_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.post(f"{AUTH}/verify-email", json={"token": "not-a-token"})

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"
