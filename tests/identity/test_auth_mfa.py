"""Two-step sign-in: TOTP enrolment, confirmation, the sign-in challenge, and turning it off."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import AsyncIterator

import httpx
import pyotp
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from nexus.core import ratelimit
from nexus.core.audit import AuditEvent
from nexus.core.db import Database
from nexus.core.types import utcnow
from nexus.identity.models import AuthSession, User
from tests.identity.factories import PASSWORD, TenantFixture, make_tenant

AUTH = "/api/v1/auth"


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Each test signs in from its own address, so one test's failures never throttle another."""
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


def wrong_code(secret: str) -> str:
    """A code that is none of those accepted now (the current step and its neighbours)."""
    totp, now = pyotp.TOTP(secret), time.time()
    accepted = {totp.at(now + drift) for drift in (-30, 0, 30)}
    return next(code for code in ("000000", "111111", "222222", "333333") if code not in accepted)


async def user_row(database: Database, user_id: uuid.UUID) -> User:
    async with database.transaction() as session:
        user = await session.get(User, user_id)
        assert user is not None
        return user


async def session_count(database: Database, user_id: uuid.UUID) -> int:
    async with database.transaction() as session:
        rows = await session.scalars(select(AuthSession.id).where(AuthSession.user_id == user_id))
        return len(list(rows))


async def enable_totp(client: httpx.AsyncClient, tenant: TenantFixture) -> str:
    enrolment = await client.post(f"{AUTH}/mfa/totp/enrol", headers=tenant.headers)
    secret: str = enrolment.json()["secret"]
    confirmed = await client.post(
        f"{AUTH}/mfa/totp/confirm", json={"code": pyotp.TOTP(secret).now()}, headers=tenant.headers
    )
    assert confirmed.status_code == 200
    return secret


async def challenge(client: httpx.AsyncClient, tenant: TenantFixture) -> str:
    response = await client.post(
        f"{AUTH}/login", json={"email": tenant.owner.email, "password": PASSWORD}
    )
    assert response.status_code == 401
    assert response.json()["code"] == "mfa_required"
    token: str = response.json()["challenge_token"]
    return token


async def test_enrol_stores_an_encrypted_secret_without_turning_it_on(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)

    response = await client.post(f"{AUTH}/mfa/totp/enrol", headers=tenant.headers)

    assert response.status_code == 200
    secret = response.json()["secret"]
    assert len(secret) == 32
    assert response.json()["otpauth_uri"] == pyotp.TOTP(secret).provisioning_uri(
        name=tenant.owner.email, issuer_name="NEXUS"
    )
    user = await user_row(database, tenant.owner.user_id)
    assert user.mfa_secret_encrypted is not None
    assert secret.encode() not in user.mfa_secret_encrypted
    assert user.mfa_enabled_at is None
    login = await client.post(
        f"{AUTH}/login", json={"email": tenant.owner.email, "password": PASSWORD}
    )
    assert login.status_code == 200


async def test_confirm_with_the_current_code_turns_it_on(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    enrolment = await client.post(f"{AUTH}/mfa/totp/enrol", headers=tenant.headers)
    code = pyotp.TOTP(enrolment.json()["secret"]).now()

    response = await client.post(
        f"{AUTH}/mfa/totp/confirm", json={"code": code}, headers=tenant.headers
    )

    assert response.status_code == 200
    assert response.json()["mfa_enabled"] is True
    assert (await user_row(database, tenant.owner.user_id)).mfa_enabled_at is not None
    me = await client.get("/api/v1/me", headers=tenant.headers)
    assert me.json()["mfa_enabled"] is True
    async with database.transaction() as session:
        actions = await session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.target_id == str(tenant.owner.user_id))
            .order_by(AuditEvent.occurred_at, AuditEvent.id)
        )
        assert list(actions) == ["identity.auth.mfa_enrolled", "identity.auth.mfa_enabled"]


async def test_confirm_with_a_wrong_code_leaves_it_off(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    enrolment = await client.post(f"{AUTH}/mfa/totp/enrol", headers=tenant.headers)

    response = await client.post(
        f"{AUTH}/mfa/totp/confirm",
        json={"code": wrong_code(enrolment.json()["secret"])},
        headers=tenant.headers,
    )

    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "field": "body.code",
            "reason": "The authenticator code is wrong",
            "code": "invalid_mfa_code",
        }
    ]
    assert (await user_row(database, tenant.owner.user_id)).mfa_enabled_at is None


async def test_confirm_before_enrolling_is_409(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)

    response = await client.post(
        f"{AUTH}/mfa/totp/confirm", json={"code": "123456"}, headers=tenant.headers
    )

    assert response.status_code == 409
    assert response.json()["code"] == "mfa_not_enrolled"


async def test_enrol_again_while_on_is_409_and_keeps_the_secret(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    await enable_totp(client, tenant)
    before = (await user_row(database, tenant.owner.user_id)).mfa_secret_encrypted

    response = await client.post(f"{AUTH}/mfa/totp/enrol", headers=tenant.headers)

    assert response.status_code == 409
    assert response.json()["code"] == "mfa_already_enabled"
    assert (await user_row(database, tenant.owner.user_id)).mfa_secret_encrypted == before


async def test_enrol_with_an_api_key_is_refused(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)

    response = await client.post(
        f"{AUTH}/mfa/totp/enrol", headers={"Authorization": f"Bearer {tenant.api_key}"}
    )

    assert response.status_code == 422
    assert response.json()["code"] == "user_session_required"


async def test_login_with_totp_on_asks_for_the_code_then_signs_in(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    secret = await enable_totp(client, tenant)

    token = await challenge(client, tenant)
    assert await session_count(database, tenant.owner.user_id) == 1  # no session yet
    response = await client.post(
        f"{AUTH}/mfa/verify",
        json={"challenge_token": token, "code": pyotp.TOTP(secret).now()},
    )

    assert response.status_code == 200
    assert response.json()["tenant_slug"] == tenant.slug
    me = await client.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {response.json()['access_token']}"}
    )
    assert me.json()["email"] == tenant.owner.email
    assert await session_count(database, tenant.owner.user_id) == 2


async def test_mfa_verify_with_a_wrong_code_is_401_and_counts(
    client: httpx.AsyncClient, database: Database, halfway_window: int
) -> None:
    tenant = await make_tenant(database)
    secret = await enable_totp(client, tenant)
    token = await challenge(client, tenant)

    for _ in range(5):
        wrong = await client.post(
            f"{AUTH}/mfa/verify", json={"challenge_token": token, "code": wrong_code(secret)}
        )
        assert wrong.status_code == 401
        assert wrong.json()["code"] == "invalid_mfa_code"
    right = await client.post(
        f"{AUTH}/mfa/verify",
        json={"challenge_token": token, "code": pyotp.TOTP(secret).now()},
    )

    assert right.status_code == 429
    assert right.headers["retry-after"] == str(halfway_window)
    assert await session_count(database, tenant.owner.user_id) == 1


async def test_mfa_verify_refuses_an_access_token_as_challenge(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    secret = await enable_totp(client, tenant)

    response = await client.post(
        f"{AUTH}/mfa/verify",
        json={"challenge_token": tenant.owner.access_token, "code": pyotp.TOTP(secret).now()},
    )

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"
    assert await session_count(database, tenant.owner.user_id) == 1


async def test_mfa_verify_code_must_be_six_digits(client: httpx.AsyncClient) -> None:
    response = await client.post(
        f"{AUTH}/mfa/verify", json={"challenge_token": "x", "code": "12ab56"}
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.code"


async def test_disable_with_a_code_turns_it_off(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    secret = await enable_totp(client, tenant)

    response = await client.post(
        f"{AUTH}/mfa/totp/disable", json={"code": pyotp.TOTP(secret).now()}, headers=tenant.headers
    )

    assert response.status_code == 200
    assert response.json() == {"mfa_enabled": False, "mfa_enabled_at": None}
    user = await user_row(database, tenant.owner.user_id)
    assert (user.mfa_enabled_at, user.mfa_secret_encrypted) == (None, None)
    login = await client.post(
        f"{AUTH}/login", json={"email": tenant.owner.email, "password": PASSWORD}
    )
    assert login.status_code == 200


async def test_disable_with_a_wrong_code_keeps_it_on(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    secret = await enable_totp(client, tenant)

    response = await client.post(
        f"{AUTH}/mfa/totp/disable", json={"code": wrong_code(secret)}, headers=tenant.headers
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "invalid_mfa_code"
    assert (await user_row(database, tenant.owner.user_id)).mfa_enabled_at is not None


async def test_disable_when_off_is_409(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await make_tenant(database)

    response = await client.post(
        f"{AUTH}/mfa/totp/disable", json={"code": "123456"}, headers=tenant.headers
    )

    assert response.status_code == 409
    assert response.json()["code"] == "mfa_not_enabled"
