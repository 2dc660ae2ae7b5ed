"""Forgotten passwords (mailed reset link) and changing one's password."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from nexus.core import ratelimit
from nexus.core.audit import AuditEvent
from nexus.core.db import Database
from nexus.core.types import utcnow
from nexus.core.worker import Worker
from nexus.identity.models import AuthSession, User
from tests.identity.factories import PASSWORD, TenantFixture, make_tenant, unique
from tests.mailbox import Mailbox

AUTH = "/api/v1/auth"
NEW_PASSWORD = "a brand new long passphrase"
FORGOT_ANSWER = {
    "message": "If an account uses this address, we sent it a link to reset the password"
}


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Each test comes from its own address, so one test's throttling never reaches another."""
    octets = uuid.uuid4().bytes
    address = f"10.{octets[0]}.{octets[1]}.{octets[2]}"
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


async def login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post(f"{AUTH}/login", json={"email": email, "password": password})


async def revoked_reasons(database: Database, user_id: uuid.UUID) -> list[str | None]:
    async with database.transaction() as session:
        rows = await session.scalars(
            select(AuthSession.revoked_reason)
            .where(AuthSession.user_id == user_id)
            .order_by(AuthSession.created_at, AuthSession.id)
        )
        return list(rows)


async def user_row(database: Database, user_id: uuid.UUID) -> User:
    async with database.transaction() as session:
        user = await session.get(User, user_id)
        assert user is not None
        return user


async def reset_token(
    client: httpx.AsyncClient, tenant: TenantFixture, worker: Worker, mailbox: Mailbox
) -> str:
    response = await client.post(f"{AUTH}/forgot-password", json={"email": tenant.owner.email})
    assert response.status_code == 202
    await worker.run_until_idle()
    return mailbox.token_in_last(tenant.owner.email)


# --- forgot and reset ----------------------------------------------------------------------


async def test_forgot_password_mails_a_reset_link(
    client: httpx.AsyncClient, database: Database, worker: Worker, mailbox: Mailbox
) -> None:
    tenant = await make_tenant(database)

    response = await client.post(f"{AUTH}/forgot-password", json={"email": tenant.owner.email})

    assert response.status_code == 202
    assert response.json() == FORGOT_ANSWER
    await worker.run_until_idle()
    [mail] = mailbox.to(tenant.owner.email)
    assert mail["Subject"] == "Reset your password"
    body = mail.get_body(("plain",))
    assert body is not None
    assert "http://nexus.test/reset-password?token=" in body.get_content()


async def test_forgot_password_for_an_unknown_address_answers_the_same_and_mails_nothing(
    client: httpx.AsyncClient, worker: Worker, mailbox: Mailbox
) -> None:
    email = f"{unique('nobody')}@example.com"

    response = await client.post(f"{AUTH}/forgot-password", json={"email": email})

    assert response.status_code == 202
    assert response.json() == FORGOT_ANSWER
    await worker.run_until_idle()
    assert mailbox.to(email) == []


async def test_forgot_password_of_a_deactivated_user_mails_nothing(
    client: httpx.AsyncClient, database: Database, worker: Worker, mailbox: Mailbox
) -> None:
    tenant = await make_tenant(database)
    async with database.transaction() as session:
        await session.execute(
            update(User).where(User.id == tenant.owner.user_id).values(is_active=False)
        )

    response = await client.post(f"{AUTH}/forgot-password", json={"email": tenant.owner.email})

    assert response.status_code == 202
    assert response.json() == FORGOT_ANSWER
    await worker.run_until_idle()
    assert mailbox.to(tenant.owner.email) == []


async def test_forgot_password_is_throttled_per_address(
    client: httpx.AsyncClient, worker: Worker, mailbox: Mailbox, halfway_window: int
) -> None:
    for _ in range(10):
        email = f"{unique('someone')}@example.com"
        response = await client.post(f"{AUTH}/forgot-password", json={"email": email})
        assert response.status_code == 202

    refused = await client.post(
        f"{AUTH}/forgot-password", json={"email": f"{unique('late')}@example.com"}
    )

    assert refused.status_code == 429
    assert refused.json()["code"] == "too_many_requests"
    assert refused.headers["retry-after"] == str(halfway_window)


async def test_reset_sets_the_password_and_signs_every_session_out(
    client: httpx.AsyncClient, database: Database, worker: Worker, mailbox: Mailbox
) -> None:
    tenant = await make_tenant(database)
    token = await reset_token(client, tenant, worker, mailbox)

    response = await client.post(
        f"{AUTH}/reset-password", json={"token": token, "password": NEW_PASSWORD}
    )

    assert response.status_code == 200
    assert (await client.get("/api/v1/me", headers=tenant.headers)).status_code == 401
    assert await revoked_reasons(database, tenant.owner.user_id) == ["password_reset"]
    assert (await login(client, tenant.owner.email, PASSWORD)).status_code == 401
    assert (await login(client, tenant.owner.email, NEW_PASSWORD)).status_code == 200
    assert (await user_row(database, tenant.owner.user_id)).email_verified_at is not None
    async with database.transaction() as session:
        actions = await session.scalars(
            select(AuditEvent.action).where(AuditEvent.target_id == str(tenant.owner.user_id))
        )
        assert "identity.auth.password_reset" in list(actions)


async def test_a_reset_token_works_once(
    client: httpx.AsyncClient, database: Database, worker: Worker, mailbox: Mailbox
) -> None:
    tenant = await make_tenant(database)
    token = await reset_token(client, tenant, worker, mailbox)
    await client.post(f"{AUTH}/reset-password", json={"token": token, "password": NEW_PASSWORD})

    again = await client.post(
        f"{AUTH}/reset-password", json={"token": token, "password": "yet another passphrase"}
    )

    assert again.status_code == 401
    assert again.json()["code"] == "invalid_token"
    assert (await login(client, tenant.owner.email, NEW_PASSWORD)).status_code == 200


async def test_reset_with_a_short_password_changes_nothing_and_keeps_the_token(
    client: httpx.AsyncClient, database: Database, worker: Worker, mailbox: Mailbox
) -> None:
    tenant = await make_tenant(database)
    token = await reset_token(client, tenant, worker, mailbox)

    response = await client.post(
        f"{AUTH}/reset-password", json={"token": token, "password": "short"}
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.password"
    assert response.json()["errors"][0]["code"] == "password_too_short"
    assert (await client.get("/api/v1/me", headers=tenant.headers)).status_code == 200
    assert await revoked_reasons(database, tenant.owner.user_id) == [None]
    retry = await client.post(
        f"{AUTH}/reset-password", json={"token": token, "password": NEW_PASSWORD}
    )
    assert retry.status_code == 200


async def test_reset_with_an_unknown_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.post(
        f"{AUTH}/reset-password", json={"token": "not-a-token", "password": NEW_PASSWORD}
    )

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


# --- change --------------------------------------------------------------------------------


async def test_change_password_keeps_this_session_and_signs_out_the_others(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    other = await login(client, tenant.owner.email, PASSWORD)

    response = await client.post(
        f"{AUTH}/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=tenant.headers,
    )

    assert response.status_code == 200
    assert (await client.get("/api/v1/me", headers=tenant.headers)).status_code == 200
    other_me = await client.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {other.json()['access_token']}"}
    )
    assert other_me.status_code == 401
    assert await revoked_reasons(database, tenant.owner.user_id) == [None, "password_changed"]
    assert (await login(client, tenant.owner.email, PASSWORD)).status_code == 401
    assert (await login(client, tenant.owner.email, NEW_PASSWORD)).status_code == 200


async def test_change_password_with_a_wrong_current_password_is_422(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    await login(client, tenant.owner.email, PASSWORD)

    response = await client.post(
        f"{AUTH}/password",
        json={"current_password": "not the password at all", "new_password": NEW_PASSWORD},
        headers=tenant.headers,
    )

    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "field": "body.current_password",
            "reason": "The current password is wrong",
            "code": "wrong_password",
        }
    ]
    assert await revoked_reasons(database, tenant.owner.user_id) == [None, None]
    assert (await login(client, tenant.owner.email, PASSWORD)).status_code == 200


async def test_change_password_refuses_the_email_as_password(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)

    response = await client.post(
        f"{AUTH}/password",
        json={"current_password": PASSWORD, "new_password": tenant.owner.email},
        headers=tenant.headers,
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.new_password"
    assert response.json()["errors"][0]["code"] == "password_is_email"
    assert (await login(client, tenant.owner.email, PASSWORD)).status_code == 200


async def test_change_password_with_an_api_key_is_refused(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)

    response = await client.post(
        f"{AUTH}/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers={"Authorization": f"Bearer {tenant.api_key}"},
    )

    assert response.status_code == 422
    assert response.json()["code"] == "user_session_required"
    assert (await login(client, tenant.owner.email, PASSWORD)).status_code == 200
