"""`POST /api/v1/activate`: who may activate, what comes to life, atomicity, dry runs,
idempotency, the owner who already has an account."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from nexus.app import create_app
from nexus.core.db import Database
from nexus.core.guard import across_tenants
from nexus.core.integrations import integration_secrets
from nexus.core.registry import registry
from nexus.core.worker import Worker
from nexus.identity.models import Branch, Role, Tenant, User
from tests.conftest import make_settings
from tests.identity.factories import PASSWORD, make_tenant, unique
from tests.identity.test_platform import make_operator
from tests.mailbox import Mailbox

ACTIVATE = "/api/v1/activate"


def spec(**overrides: Any) -> dict[str, Any]:
    slug = unique("shop")
    body: dict[str, Any] = {
        "business": {"name": "Ada Stores", "slug": slug, "industry": "pharmacy"},
        "country": "NG",
        "owner": {"name": "Ada Obi", "email": f"{slug}@example.com"},
        "locations": [
            {
                "name": "Wuse shop",
                "address": {"line1": "5 Aminu Kano Crescent", "city": "Abuja"},
                "is_headquarters": True,
            },
            {"name": "Garki shop", "address": {"line1": "2 Ahmadu Bello Way", "city": "Abuja"}},
        ],
        "modules": {"enabled": ["crm", "commerce"]},
        "integrations": {"paystack": {"secret_key": "sk_test_abc123"}},
    }
    body.update(overrides)
    return body


@pytest.fixture(scope="module")
def open_app(database_url: str, mailbox: Mailbox, database: Database):  # type: ignore[no-untyped-def]
    return create_app(make_settings(database_url, mailbox, open_signup=True), database)


@pytest.fixture
async def open_client(open_app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=open_app, client=(f"198.51.100.{id(open_app) % 250}", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://nexus.test") as http:
        yield http


async def _tenant_by_slug(database: Database, slug: str) -> Tenant | None:
    async with database.session(write=False) as session:
        return await session.scalar(select(Tenant).where(Tenant.slug == slug))


async def test_an_operator_activates_a_business_and_everything_is_there(
    client: httpx.AsyncClient, database: Database, mailbox: Mailbox, worker: Worker
) -> None:
    operator = await make_operator(database)
    body = spec()

    response = await client.post(ACTIVATE, json=body, headers=operator.headers)

    assert response.status_code == 201, response.text
    report = response.json()
    slug = body["business"]["slug"]
    assert report["slug"] == slug and report["name"] == "Ada Stores"
    assert report["owner"]["email"] == body["owner"]["email"]
    assert report["owner"]["invited"] is False
    assert report["owner"]["api_key"].startswith("nxk_")
    assert report["owner"]["setup_url"].startswith("http://nexus.test/reset-password?token=")
    assert report["console_url"] == "http://nexus.test/sign-in"
    modules = {m["name"]: m for m in report["modules"]}
    assert modules["identity"]["status"] == "active"
    assert modules["identity"]["created"] == {"roles": 5, "branches": 2, "integrations": 1}
    assert modules["crm"]["status"] == "active"
    assert modules["crm"]["created"] == {
        "pipelines": 1,
        "stages": 6,
        "activity_types": 3,
        "fields": 8,
    }
    assert modules["commerce"]["status"] == "unavailable"
    assert [t["step"] for t in report["timings"]] == ["tenant", "integrations", "identity", "crm"]
    assert "sk_test_abc123" not in response.text

    tenant = await _tenant_by_slug(database, slug)
    assert tenant is not None
    assert (tenant.currency, tenant.timezone, tenant.industry) == (
        "NGN",
        "Africa/Lagos",
        "pharmacy",
    )
    assert tenant.enabled_modules == ["crm"]
    assert tenant.address == {"line1": "5 Aminu Kano Crescent", "city": "Abuja", "country": "NG"}
    assert tenant.business_profile["languages"] == ["en"]
    assert "contact.medical_history" in tenant.business_profile["sensitive_fields"]
    async with database.session(write=False) as session:
        with across_tenants(session):
            role_keys = set(
                await session.scalars(select(Role.key).where(Role.tenant_id == tenant.id))
            )
            branches = list(
                await session.scalars(select(Branch).where(Branch.tenant_id == tenant.id))
            )
        session.info["tenant_id"] = tenant.id
        secrets = await integration_secrets(session, database.keyring, "paystack")
    assert {"owner", "doctor", "nurse", "pharmacist", "receptionist"} <= role_keys
    assert sorted(b.code for b in branches) == ["GARKISHO", "WUSESHOP"]
    assert [b.is_headquarters for b in branches if b.code == "WUSESHOP"] == [True]
    assert secrets == {"secret_key": "sk_test_abc123"}

    me = await client.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {report['owner']['api_key']}"}
    )
    assert me.status_code == 200 and me.json()["tenant_slug"] == slug
    await worker.run_until_idle()
    assert "choose your password" in mailbox.last_to(body["owner"]["email"])["Subject"]


async def test_without_open_sign_up_only_operators_may_activate(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    body = spec()

    anonymous = await client.post(ACTIVATE, json=body)
    owner = await client.post(ACTIVATE, json=body, headers=tenant.headers)

    assert anonymous.status_code == 401
    assert owner.status_code == 403
    assert await _tenant_by_slug(database, body["business"]["slug"]) is None


async def test_with_open_sign_up_anyone_may_activate_and_the_owner_may_set_a_password(
    open_client: httpx.AsyncClient, database: Database
) -> None:
    body = spec(
        owner={"name": "Bola", "email": f"{unique('bola')}@example.com", "password": PASSWORD}
    )

    response = await open_client.post(ACTIVATE, json=body)

    assert response.status_code == 201, response.text
    assert response.json()["owner"]["setup_url"] is None
    login = await open_client.post(
        "/api/v1/auth/login", json={"email": body["owner"]["email"], "password": PASSWORD}
    )
    assert login.status_code == 200


async def test_an_existing_user_is_invited_not_handed_the_business(
    open_client: httpx.AsyncClient, database: Database, mailbox: Mailbox, worker: Worker
) -> None:
    existing = await make_tenant(database)
    body = spec(owner={"name": "Someone", "email": existing.owner.email})

    response = await open_client.post(ACTIVATE, json=body)

    assert response.status_code == 201, response.text
    owner = response.json()["owner"]
    assert owner == {
        "email": existing.owner.email,
        "invited": True,
        "setup_url": None,
        "api_key": None,
    }
    await worker.run_until_idle()
    assert (
        "/accept-invitation?token="
        in mailbox.last_to(existing.owner.email).get_body(("plain",)).get_content()
    )  # type: ignore[union-attr]


async def test_a_password_for_an_existing_user_is_refused(
    open_client: httpx.AsyncClient, database: Database
) -> None:
    existing = await make_tenant(database)
    body = spec(
        owner={"name": "X", "email": existing.owner.email, "password": "another long password"}
    )

    response = await open_client.post(ACTIVATE, json=body)

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.owner.password"
    assert await _tenant_by_slug(database, body["business"]["slug"]) is None


async def test_every_bad_field_is_listed_in_one_problem(open_client: httpx.AsyncClient) -> None:
    body = spec(country="XX", currency="NAIRA")
    body["owner"]["email"] = "not-an-email"
    body["business"]["industry"] = "space travel"

    response = await open_client.post(ACTIVATE, json=body)

    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"body.country", "body.currency", "body.owner.email", "body.business.industry"} <= fields


async def test_a_dry_run_shows_the_plan_and_writes_nothing(
    open_client: httpx.AsyncClient, database: Database
) -> None:
    body = spec(currency=None)
    del body["currency"]

    response = await open_client.post(ACTIVATE, params={"dry_run": "true"}, json=body)

    assert response.status_code == 200, response.text
    plan = response.json()
    assert plan["currency"] == "NGN" and plan["origins"]["currency"] == "country"
    assert plan["preset"] == "healthcare" and plan["origins"]["modules"] == "spec"
    assert [m["name"] for m in plan["modules"] if m["status"] == "unavailable"] == ["commerce"]
    assert plan["integrations"] == ["paystack"] and plan["locations"] == 2
    assert await _tenant_by_slug(database, body["business"]["slug"]) is None


async def test_the_same_slug_again_is_a_conflict_naming_it(
    open_client: httpx.AsyncClient, database: Database
) -> None:
    body = spec()
    assert (await open_client.post(ACTIVATE, json=body)).status_code == 201
    again = copy.deepcopy(body)
    again["owner"]["email"] = f"{unique('other')}@example.com"

    response = await open_client.post(ACTIVATE, json=again)

    assert response.status_code == 409
    assert body["business"]["slug"] in response.json()["detail"]


async def test_an_idempotency_key_replays_the_first_answer(
    open_client: httpx.AsyncClient, database: Database
) -> None:
    body = spec()
    headers = {"Idempotency-Key": unique("activation")}

    first = await open_client.post(ACTIVATE, json=body, headers=headers)
    second = await open_client.post(ACTIVATE, json=body, headers=headers)

    assert first.status_code == second.status_code == 201
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()


async def test_a_failing_step_leaves_no_trace(
    open_client: httpx.AsyncClient, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any) -> dict[str, int]:
        raise RuntimeError("a module's step failed")

    monkeypatch.setattr(registry.modules["identity"], "provision", broken)
    body = spec()

    with pytest.raises(RuntimeError):
        await open_client.post(ACTIVATE, json=body)

    assert await _tenant_by_slug(database, body["business"]["slug"]) is None
    async with database.session(write=False) as session:
        users = await session.scalar(
            select(func.count()).select_from(User).where(User.email == body["owner"]["email"])
        )
    assert users == 0


async def test_the_schema_is_served(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{ACTIVATE}/schema")

    assert response.status_code == 200
    assert response.json()["title"] == "Business activation input"


async def test_a_nul_character_is_a_422_naming_the_field(open_client: httpx.AsyncClient) -> None:
    body = spec()
    body["business"]["name"] = "Ada\u0000Stores"

    response = await open_client.post(ACTIVATE, json=body)

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.business.name"
