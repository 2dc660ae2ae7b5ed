"""The API keys pages: the list, a new key shown once, revoking."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

import httpx
from sqlalchemy import delete

from nexus.core.db import Database
from nexus.identity.models import ApiKey
from tests.console.browser_client import Console
from tests.identity.factories import TenantFixture, add_member, make_tenant

KEYS = "/api/v1/identity/api-keys"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def api_keys(client: httpx.AsyncClient, tenant: TenantFixture) -> list[dict[str, Any]]:
    response = await client.get(KEYS, headers=tenant.headers)
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def secret_in(html: str) -> str:
    found = re.search(
        r'<code id="new-key" data-testid="new-key">(nxk_[A-Za-z0-9_\-]+)</code>', html
    )
    assert found is not None
    return found.group(1)


# --- the list ------------------------------------------------------------------------------


async def test_the_list_shows_keys_without_their_secrets(
    console: Console, database: Database
) -> None:
    tenant = await make_tenant(database)
    await console.sign_in(tenant.owner.email)

    response = await console.get("/api-keys")

    assert response.status_code == 200
    assert re.findall(r'data-testid="key-name">([^<]+)<', response.text) == ["test"]
    assert f'data-testid="key-prefix">{tenant.api_key[:12]}<' in response.text
    assert tenant.api_key not in response.text
    assert 'data-testid="key-scopes"><code>*</code><' in response.text
    assert 'data-testid="key-status">Active<' in response.text
    assert 'data-testid="revoke-key"' in response.text
    assert 'data-testid="create-key"' in response.text


async def test_no_keys_shows_the_empty_state(console: Console, database: Database) -> None:
    tenant = await make_tenant(database)
    async with database.transaction() as session:
        await session.execute(delete(ApiKey).where(ApiKey.tenant_id == tenant.tenant_id))
    await console.sign_in(tenant.owner.email)

    response = await console.get("/api-keys")

    assert 'data-testid="empty-state"' in response.text
    assert 'data-testid="keys"' not in response.text


# --- a new key -----------------------------------------------------------------------------


async def test_a_new_key_is_shown_once_and_works(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    await console.sign_in(tenant.owner.email)
    form = await console.get("/api-keys/new")
    assert 'name="scopes" value="identity.user.read"' in form.text

    response = await console.post(
        "/api-keys/new",
        {"name": "Accounting sync", "scopes": ["identity.user.read", "identity.tenant.read"]},
    )

    assert response.status_code == 201
    assert response.headers["cache-control"] == "no-store"
    assert 'data-copy="#new-key"' in response.text
    secret = secret_in(response.text)
    me = await client.get("/api/v1/me", headers=bearer(secret))
    assert me.status_code == 200
    assert me.json()["actor_type"] == "api_key"
    assert me.json()["permissions"] == ["identity.tenant.read", "identity.user.read"]
    listing = await console.get("/api-keys")
    assert secret not in listing.text
    assert f'data-testid="key-prefix">{secret[:12]}<' in listing.text
    created = next(k for k in await api_keys(client, tenant) if k["name"] == "Accounting sync")
    assert (created["scopes"], created["expires_at"]) == (
        ["identity.tenant.read", "identity.user.read"],
        None,
    )


async def test_the_expiry_day_starts_in_the_business_timezone(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database, timezone="Africa/Lagos")  # UTC+1, no summer time
    await console.sign_in(tenant.owner.email)
    await console.get("/api-keys/new")

    response = await console.post(
        "/api-keys/new",
        {"name": "Short-lived", "scopes": "identity.*", "expires_at": "2099-01-31"},
    )

    assert response.status_code == 201
    assert "2099-01-31 00:00" in response.text
    created = next(k for k in await api_keys(client, tenant) if k["name"] == "Short-lived")
    expires = dt.datetime.fromisoformat(created["expires_at"])
    assert expires == dt.datetime(2099, 1, 30, 23, 0, tzinfo=dt.UTC)
    assert created["scopes"] == ["identity.*"]


async def test_invalid_fields_are_named_and_no_key_is_made(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    await console.sign_in(tenant.owner.email)
    await console.get("/api-keys/new")
    yesterday = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)).isoformat()

    empty = await console.post("/api-keys/new", {"name": "", "expires_at": ""})
    past = await console.post(
        "/api-keys/new",
        {"name": "Old", "scopes": "identity.user.read", "expires_at": yesterday},
    )
    garbled = await console.post(
        "/api-keys/new", {"name": "Odd", "scopes": "identity.user.read", "expires_at": "soon"}
    )
    unknown = await console.post("/api-keys/new", {"name": "Odd", "scopes": "nope.nothing"})

    assert empty.status_code == 422
    assert 'data-testid="error-name"' in empty.text
    assert 'data-testid="error-scopes"' in empty.text
    assert past.status_code == 422
    assert "The expiry must be in the future" in past.text
    assert 'data-testid="error-expires_at"' in past.text
    assert garbled.status_code == 422
    assert 'data-testid="error-expires_at"' in garbled.text
    assert unknown.status_code == 422
    assert 'data-testid="error-scopes"' in unknown.text
    assert 'id="new-key"' not in unknown.text
    assert [k["name"] for k in await api_keys(client, tenant)] == ["test"]


async def test_a_key_cannot_hold_more_than_its_maker(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    maker = await add_member(
        database, tenant, permissions=["identity.api_key.read", "identity.api_key.manage"]
    )
    await console.sign_in(maker.email)
    await console.get("/api-keys/new")

    response = await console.post(
        "/api-keys/new", {"name": "Greedy", "scopes": ["identity.api_key.read", "identity.*"]}
    )

    assert response.status_code == 422
    assert "You do not hold &#39;identity.*&#39; yourself" in response.text
    assert [k["name"] for k in await api_keys(client, tenant)] == ["test"]


# --- revoking ------------------------------------------------------------------------------


async def test_revoking_stops_the_key_at_once(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    await console.sign_in(tenant.owner.email)
    await console.get("/api-keys/new")
    secret = secret_in(
        (await console.post("/api-keys/new", {"name": "Temp", "scopes": "identity.*"})).text
    )
    assert (await client.get("/api/v1/me", headers=bearer(secret))).status_code == 200
    key_id = next(k["id"] for k in await api_keys(client, tenant) if k["name"] == "Temp")
    listing = await console.get("/api-keys")
    assert 'data-confirm="Revoke the key Temp? Programs using it stop working at once."' in (
        listing.text
    )

    response = await console.post(f"/api-keys/{key_id}/revoke")

    assert response.status_code == 303
    assert response.headers["location"] == "/api-keys"
    assert (await client.get("/api/v1/me", headers=bearer(secret))).status_code == 401
    after = await console.get("/api-keys")
    assert "The key Temp is revoked: it no longer works." in after.text
    assert after.text.count('data-testid="key-status">Revoked ') == 1
    assert after.text.count('data-testid="revoke-key"') == 1  # only the other key's button


# --- who may do what -----------------------------------------------------------------------


async def test_a_reader_sees_keys_but_no_forms_and_cannot_post(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    reader = await add_member(database, tenant, permissions=["identity.api_key.read"])
    key_id = (await api_keys(client, tenant))[0]["id"]
    await console.sign_in(reader.email)

    listing = await console.get("/api-keys")
    new = await console.get("/api-keys/new")
    created = await console.post("/api-keys/new", {"name": "X", "scopes": "identity.*"})
    revoked = await console.post(f"/api-keys/{key_id}/revoke")

    assert listing.status_code == 200
    assert 'data-testid="key-name">test<' in listing.text
    assert 'data-testid="revoke-key"' not in listing.text
    assert 'data-testid="create-key"' not in listing.text
    assert [new.status_code, created.status_code, revoked.status_code] == [403, 403, 403]
    assert [k["name"] for k in await api_keys(client, tenant)] == ["test"]
    assert (await client.get("/api/v1/me", headers=bearer(tenant.api_key))).status_code == 200


async def test_staff_may_not_open_api_keys(console: Console, database: Database) -> None:
    tenant = await make_tenant(database)
    staff = await add_member(database, tenant, role="staff")
    await console.sign_in(staff.email)

    assert (await console.get("/api-keys")).status_code == 403
    assert (await console.get("/api-keys/new")).status_code == 403


async def test_another_business_key_is_not_found_and_keeps_working(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    ours = await make_tenant(database)
    theirs = await make_tenant(database)
    their_key = (await api_keys(client, theirs))[0]["id"]
    await console.sign_in(ours.owner.email)
    await console.get("/api-keys")

    revoked = await console.post(f"/api-keys/{their_key}/revoke")
    unknown = await console.post(f"/api-keys/{uuid.uuid4()}/revoke")

    assert [revoked.status_code, unknown.status_code] == [404, 404]
    assert (await client.get("/api/v1/me", headers=bearer(theirs.api_key))).status_code == 200
    assert (await api_keys(client, theirs))[0]["revoked_at"] is None
