from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select

from nexus.core.audit import AuditEvent
from nexus.core.db import Database
from nexus.core.worker import Worker
from nexus.identity.models import AuthSession, Membership, User
from tests.identity.factories import TenantFixture, add_member, make_tenant, unique
from tests.mailbox import Mailbox
from tests.statements import counting

USERS = "/api/v1/identity/users"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def invite(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    *,
    email: str | None = None,
    role: str = "staff",
    name: str | None = "Ike Invitee",
) -> dict[str, Any]:
    body: dict[str, Any] = {"email": email or f"{unique('invitee')}@example.com", "role": role}
    if name is not None:
        body["name"] = name
    response = await client.post(USERS, json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def membership(database: Database, tenant: TenantFixture, user_id: Any) -> Membership:
    async with database.transaction() as session:
        return (
            await session.scalars(
                select(Membership).where(
                    Membership.tenant_id == tenant.tenant_id,
                    Membership.user_id == uuid.UUID(str(user_id)),
                )
            )
        ).one()


async def audit_actions(database: Database, tenant: TenantFixture) -> list[tuple[str, list[str]]]:
    async with database.transaction() as session:
        rows = await session.execute(
            select(AuditEvent.action, AuditEvent.changes)
            .where(AuditEvent.tenant_id == tenant.tenant_id)
            .order_by(AuditEvent.occurred_at, AuditEvent.id)
        )
        return [(action, list(changes)) for action, changes in rows]


async def get_member(
    client: httpx.AsyncClient, tenant: TenantFixture, user_id: Any
) -> dict[str, Any]:
    response = await client.get(f"{USERS}/{user_id}", headers=tenant.headers)
    assert response.status_code == 200
    result: dict[str, Any] = response.json()
    return result


# --- listing -------------------------------------------------------------------------------


async def test_list_shows_each_member_with_role_and_status(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    member = await add_member(database, tenant, role="manager")

    response = await client.get(USERS, headers=tenant.headers)

    assert response.status_code == 200
    body = response.json()
    assert body["next_cursor"] is None
    assert [(m["email"], m["role"], m["status"]) for m in body["items"]] == [
        (tenant.owner.email, "owner", "active"),
        (member.email, "manager", "active"),
    ]
    first = body["items"][0]
    assert first["user_id"] == str(tenant.owner.user_id)
    assert first["name"] == "Ada Owner"
    assert first["version"] == 1
    assert set(first) == {"user_id", "email", "name", "role", "status", "joined_at", "version"}


async def test_list_pages_through_every_member_once(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    members = [await add_member(database, tenant) for _ in range(4)]

    first = (await client.get(USERS, params={"limit": 2}, headers=tenant.headers)).json()
    second = (
        await client.get(
            USERS, params={"limit": 2, "cursor": first["next_cursor"]}, headers=tenant.headers
        )
    ).json()
    third = (
        await client.get(
            USERS, params={"limit": 2, "cursor": second["next_cursor"]}, headers=tenant.headers
        )
    ).json()

    seen = [m["user_id"] for page in (first, second, third) for m in page["items"]]
    assert seen == [str(tenant.owner.user_id)] + [str(m.user_id) for m in members]
    assert [len(first["items"]), len(second["items"]), len(third["items"])] == [2, 2, 1]
    assert third["next_cursor"] is None


async def test_search_is_case_insensitive_on_name_and_email(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    zed = await invite(client, tenant, name="Chioma Zedd")
    await invite(client, tenant, name="Other Person")
    tag = unique("MixedCase").lower()
    by_mail = await invite(client, tenant, email=f"{tag}@example.com", name="")

    by_name = await client.get(USERS, params={"search": "zEDD"}, headers=tenant.headers)
    by_email = await client.get(USERS, params={"search": tag.upper()}, headers=tenant.headers)
    wildcard = await client.get(USERS, params={"search": "%"}, headers=tenant.headers)

    assert [m["user_id"] for m in by_name.json()["items"]] == [zed["user_id"]]
    assert wildcard.json()["items"] == []
    assert [m["user_id"] for m in by_email.json()["items"]] == [by_mail["user_id"]]


async def test_status_and_role_filters(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await make_tenant(database)
    manager = await add_member(database, tenant, role="manager")
    invited = await invite(client, tenant, role="viewer")

    by_status = await client.get(USERS, params={"status": "invited"}, headers=tenant.headers)
    by_role = await client.get(USERS, params={"role": "manager"}, headers=tenant.headers)
    bad = await client.get(USERS, params={"status": "gone"}, headers=tenant.headers)

    assert [m["user_id"] for m in by_status.json()["items"]] == [invited["user_id"]]
    assert [m["user_id"] for m in by_role.json()["items"]] == [str(manager.user_id)]
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json()["errors"]] == ["query.status"]


async def test_list_refuses_bad_limit_and_cursor(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)

    too_big = await client.get(USERS, params={"limit": 201}, headers=tenant.headers)
    nul = await client.get(USERS, params={"search": "a\u0000"}, headers=tenant.headers)
    bad_cursor = await client.get(USERS, params={"cursor": "nonsense"}, headers=tenant.headers)

    assert too_big.status_code == 422
    assert [e["field"] for e in too_big.json()["errors"]] == ["query.limit"]
    assert nul.status_code == 422
    assert [e["field"] for e in nul.json()["errors"]] == ["query.search"]
    assert bad_cursor.status_code == 422
    assert [e["field"] for e in bad_cursor.json()["errors"]] == ["query.cursor"]


async def test_four_callers_on_get_member(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await make_tenant(database)
    other = await make_tenant(database)
    without = await add_member(database, tenant, permissions=["identity.tenant.read"])
    holder = await add_member(database, tenant, permissions=["identity.user.read"])
    path = f"{USERS}/{tenant.owner.user_id}"

    anonymous = await client.get(path)
    refused = await client.get(path, headers=without.headers)
    allowed = await client.get(path, headers=holder.headers)
    foreign = await client.get(path, headers=other.headers)

    assert anonymous.status_code == 401
    assert refused.status_code == 403
    assert refused.json()["code"] == "permission_denied"
    assert allowed.status_code == 200
    assert allowed.json()["email"] == tenant.owner.email
    assert foreign.status_code == 404
    assert foreign.json()["code"] == "user_not_found"


async def test_get_unknown_member_is_404(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await make_tenant(database)

    response = await client.get(f"{USERS}/{uuid.uuid4()}", headers=tenant.headers)

    assert response.status_code == 404
    assert response.json()["code"] == "user_not_found"


# --- inviting ------------------------------------------------------------------------------


async def test_invite_new_person_creates_user_and_mails_a_link(
    client: httpx.AsyncClient, database: Database, worker: Worker, mailbox: Mailbox
) -> None:
    tenant = await make_tenant(database)
    email = f"{unique('New.Person')}@Example.com"

    response = await client.post(
        USERS, json={"email": email, "role": "manager", "name": "Nkem"}, headers=tenant.headers
    )
    await worker.run_until_idle()

    assert response.status_code == 201
    body = response.json()
    assert (body["email"], body["name"], body["role"], body["status"]) == (
        email.lower(),
        "Nkem",
        "manager",
        "invited",
    )
    token = mailbox.token_in_last(email)
    message = mailbox.last_to(email)
    assert f"Biz {tenant.slug}" in message["Subject"]
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert f"http://nexus.test/accept-invitation?token={token}" in text
    async with database.transaction() as session:
        user = (await session.scalars(select(User).where(User.email == email.lower()))).one()
    assert user.password_hash is None
    row = await membership(database, tenant, user.id)
    assert row.invited_by == tenant.owner.user_id
    assert await audit_actions(database, tenant) == [
        ("identity.tenant.created", []),
        ("identity.api_key.created", ["expires_at", "name", "scopes"]),
        ("identity.user.invited", ["role", "status"]),
    ]


async def test_invite_existing_user_reuses_the_account(
    client: httpx.AsyncClient, database: Database, worker: Worker, mailbox: Mailbox
) -> None:
    tenant = await make_tenant(database)
    elsewhere = await make_tenant(database)

    body = await invite(client, tenant, email=elsewhere.owner.email.upper(), name="Ignored")
    await worker.run_until_idle()

    assert body["user_id"] == str(elsewhere.owner.user_id)
    assert body["name"] == "Ada Owner"
    assert mailbox.token_in_last(elsewhere.owner.email)


async def test_invite_existing_member_is_409_and_sends_nothing(
    client: httpx.AsyncClient, database: Database, worker: Worker, mailbox: Mailbox
) -> None:
    tenant = await make_tenant(database)
    member = await add_member(database, tenant)
    await worker.run_until_idle()

    response = await client.post(
        USERS, json={"email": member.email, "role": "viewer"}, headers=tenant.headers
    )
    await worker.run_until_idle()

    assert response.status_code == 409
    assert response.json()["code"] == "already_member"
    assert mailbox.to(member.email) == []
    assert (await membership(database, tenant, member.user_id)).status == "active"


async def test_invite_validates_email_and_role(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    email = f"{unique('nobody')}@example.com"

    bad_email = await client.post(
        USERS, json={"email": "not-an-email", "role": "staff"}, headers=tenant.headers
    )
    bad_role = await client.post(
        USERS, json={"email": email, "role": "wizard"}, headers=tenant.headers
    )

    assert bad_email.status_code == 422
    assert [e["field"] for e in bad_email.json()["errors"]] == ["body.email"]
    assert bad_role.status_code == 422
    assert bad_role.json()["errors"] == [
        {"field": "body.role", "reason": "No role with the key 'wizard'", "code": "unknown_role"}
    ]
    async with database.transaction() as session:
        assert await session.scalar(select(User.id).where(User.email == email)) is None


async def test_only_an_owner_invites_an_owner(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    admin = await add_member(database, tenant, role="admin")
    email = f"{unique('boss')}@example.com"

    refused = await client.post(
        USERS, json={"email": email, "role": "owner"}, headers=admin.headers
    )
    allowed = await client.post(
        USERS, json={"email": email, "role": "owner"}, headers=tenant.headers
    )

    assert refused.status_code == 403
    assert refused.json()["code"] == "owner_required"
    assert allowed.status_code == 201
    assert allowed.json()["role"] == "owner"


async def test_invite_needs_the_invite_permission(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    manager = await add_member(database, tenant, role="manager")
    email = f"{unique('nope')}@example.com"

    response = await client.post(
        USERS, json={"email": email, "role": "staff"}, headers=manager.headers
    )

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    async with database.transaction() as session:
        assert await session.scalar(select(User.id).where(User.email == email)) is None


async def test_resend_invitation_mails_a_new_link(
    client: httpx.AsyncClient, database: Database, worker: Worker, mailbox: Mailbox
) -> None:
    tenant = await make_tenant(database)
    invited = await invite(client, tenant)
    await worker.run_until_idle()
    first = mailbox.token_in_last(invited["email"])

    response = await client.post(
        f"{USERS}/{invited['user_id']}/resend-invitation", headers=tenant.headers
    )
    await worker.run_until_idle()

    assert response.status_code == 200
    assert response.json()["status"] == "invited"
    assert len(mailbox.to(invited["email"])) == 2
    assert mailbox.token_in_last(invited["email"]) != first


async def test_resend_to_an_active_member_is_409(
    client: httpx.AsyncClient, database: Database, worker: Worker, mailbox: Mailbox
) -> None:
    tenant = await make_tenant(database)
    member = await add_member(database, tenant)

    response = await client.post(
        f"{USERS}/{member.user_id}/resend-invitation", headers=tenant.headers
    )
    await worker.run_until_idle()

    assert response.status_code == 409
    assert response.json()["code"] == "invalid_member_status"
    assert mailbox.to(member.email) == []


# --- changing ------------------------------------------------------------------------------


async def test_change_role_with_version(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await make_tenant(database)
    member = await add_member(database, tenant)

    response = await client.patch(
        f"{USERS}/{member.user_id}", json={"role": "manager", "version": 1}, headers=tenant.headers
    )

    assert response.status_code == 200
    assert (response.json()["role"], response.json()["version"]) == ("manager", 2)
    assert (await audit_actions(database, tenant))[-1] == ("identity.user.updated", ["role"])
    me = await client.get("/api/v1/me", headers=member.headers)
    assert me.json()["role"] == "manager"


async def test_change_name_with_if_match(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await make_tenant(database)
    member = await add_member(database, tenant)

    response = await client.patch(
        f"{USERS}/{member.user_id}",
        json={"name": "Bola Renamed"},
        headers={**tenant.headers, "If-Match": '"1"'},
    )

    assert response.status_code == 200
    assert (response.json()["name"], response.json()["version"]) == ("Bola Renamed", 2)
    assert (await audit_actions(database, tenant))[-1] == ("identity.user.updated", ["name"])


async def test_patch_without_version_is_428_and_stale_is_412(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    member = await add_member(database, tenant)
    path = f"{USERS}/{member.user_id}"

    missing = await client.patch(path, json={"role": "viewer"}, headers=tenant.headers)
    stale = await client.patch(path, json={"role": "viewer", "version": 7}, headers=tenant.headers)

    assert missing.status_code == 428
    assert missing.json()["code"] == "version_required"
    assert stale.status_code == 412
    assert stale.json()["code"] == "version_mismatch"
    assert stale.json()["current_version"] == 1
    after = await get_member(client, tenant, member.user_id)
    assert (after["role"], after["version"]) == ("staff", 1)


async def test_patch_in_another_tenant_is_404_before_any_version_check(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    other = await make_tenant(database)
    member = await add_member(database, tenant)

    response = await client.patch(
        f"{USERS}/{member.user_id}", json={"role": "viewer"}, headers=other.headers
    )

    assert (response.status_code, response.json()["code"]) == (404, "user_not_found")
    assert (await get_member(client, tenant, member.user_id))["role"] == "staff"


async def test_patch_unknown_role_is_422(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await make_tenant(database)
    member = await add_member(database, tenant)

    response = await client.patch(
        f"{USERS}/{member.user_id}", json={"role": "wizard", "version": 1}, headers=tenant.headers
    )

    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["body.role"]
    assert (await get_member(client, tenant, member.user_id))["role"] == "staff"


async def test_last_owner_cannot_be_demoted(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await make_tenant(database)

    response = await client.patch(
        f"{USERS}/{tenant.owner.user_id}",
        json={"role": "admin", "version": 1},
        headers=tenant.headers,
    )

    assert response.status_code == 409
    assert response.json()["code"] == "last_owner"
    owner = await get_member(client, tenant, tenant.owner.user_id)
    assert (owner["role"], owner["version"]) == ("owner", 1)


async def test_an_owner_demotes_another_owner(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    second = await add_member(database, tenant, role="owner")

    response = await client.patch(
        f"{USERS}/{second.user_id}", json={"role": "admin", "version": 1}, headers=tenant.headers
    )

    assert response.status_code == 200
    assert response.json()["role"] == "admin"


async def test_only_an_owner_makes_or_unmakes_an_owner(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    admin = await add_member(database, tenant, role="admin")
    second_owner = await add_member(database, tenant, role="owner")
    staff = await add_member(database, tenant)

    promote = await client.patch(
        f"{USERS}/{staff.user_id}", json={"role": "owner", "version": 1}, headers=admin.headers
    )
    demote = await client.patch(
        f"{USERS}/{second_owner.user_id}",
        json={"role": "staff", "version": 1},
        headers=admin.headers,
    )

    assert (promote.status_code, promote.json()["code"]) == (403, "owner_required")
    assert (demote.status_code, demote.json()["code"]) == (403, "owner_required")
    assert (await get_member(client, tenant, staff.user_id))["role"] == "staff"
    assert (await get_member(client, tenant, second_owner.user_id))["role"] == "owner"


async def test_patch_needs_the_update_permission(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    manager = await add_member(database, tenant, role="manager")
    staff = await add_member(database, tenant)

    response = await client.patch(
        f"{USERS}/{staff.user_id}", json={"role": "viewer", "version": 1}, headers=manager.headers
    )

    assert response.status_code == 403
    assert (await get_member(client, tenant, staff.user_id))["role"] == "staff"


# --- deactivating --------------------------------------------------------------------------


async def test_deactivate_ends_the_members_sessions_here(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    member = await add_member(database, tenant)
    assert (await client.get("/api/v1/me", headers=member.headers)).status_code == 200

    response = await client.post(f"{USERS}/{member.user_id}/deactivate", headers=tenant.headers)

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["version"]) == ("deactivated", 2)
    after = await client.get("/api/v1/me", headers=member.headers)
    assert after.status_code == 401
    async with database.transaction() as session:
        revoked = await session.scalar(
            select(AuthSession.revoked_reason).where(AuthSession.id == member.session_id)
        )
    assert revoked == "deactivated"
    assert (await audit_actions(database, tenant))[-1] == ("identity.user.deactivated", ["status"])


async def test_deactivate_keeps_sessions_in_other_businesses(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    other = await make_tenant(database)
    await invite(client, tenant, email=other.owner.email)

    response = await client.post(
        f"{USERS}/{other.owner.user_id}/deactivate", headers=tenant.headers
    )

    assert response.status_code == 200
    assert (await client.get("/api/v1/me", headers=other.headers)).status_code == 200


async def test_cannot_deactivate_yourself(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await make_tenant(database)
    admin = await add_member(database, tenant, role="admin")

    response = await client.post(f"{USERS}/{admin.user_id}/deactivate", headers=admin.headers)

    assert response.status_code == 409
    assert response.json()["code"] == "cannot_deactivate_self"
    assert (await membership(database, tenant, admin.user_id)).status == "active"
    assert (await client.get("/api/v1/me", headers=admin.headers)).status_code == 200


async def test_only_an_owner_deactivates_an_owner(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    admin = await add_member(database, tenant, role="admin")

    response = await client.post(
        f"{USERS}/{tenant.owner.user_id}/deactivate", headers=admin.headers
    )

    assert response.status_code == 403
    assert response.json()["code"] == "owner_required"
    assert (await membership(database, tenant, tenant.owner.user_id)).status == "active"


async def test_deactivate_twice_is_409(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await make_tenant(database)
    member = await add_member(database, tenant)
    await client.post(f"{USERS}/{member.user_id}/deactivate", headers=tenant.headers)

    again = await client.post(f"{USERS}/{member.user_id}/deactivate", headers=tenant.headers)

    assert again.status_code == 409
    assert again.json()["code"] == "invalid_member_status"
    assert (await membership(database, tenant, member.user_id)).version == 2


async def test_four_callers_on_deactivate(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await make_tenant(database)
    other = await make_tenant(database)
    member = await add_member(database, tenant)
    without = await add_member(database, tenant, permissions=["identity.user.read"])
    holder = await add_member(database, tenant, permissions=["identity.user.deactivate"])
    path = f"{USERS}/{member.user_id}/deactivate"

    anonymous = await client.post(path)
    refused = await client.post(path, headers=without.headers)
    foreign = await client.post(path, headers=other.headers)
    assert (await membership(database, tenant, member.user_id)).status == "active"
    allowed = await client.post(path, headers=holder.headers)

    assert anonymous.status_code == 401
    assert refused.status_code == 403
    assert foreign.status_code == 404
    assert foreign.json()["code"] == "user_not_found"
    assert allowed.status_code == 200


async def test_reactivate_restores_access(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await make_tenant(database)
    member = await add_member(database, tenant)
    await client.post(f"{USERS}/{member.user_id}/deactivate", headers=tenant.headers)

    response = await client.post(f"{USERS}/{member.user_id}/reactivate", headers=tenant.headers)
    again = await client.post(f"{USERS}/{member.user_id}/reactivate", headers=tenant.headers)

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["version"]) == ("active", 3)
    assert again.status_code == 409
    assert again.json()["code"] == "invalid_member_status"
    actions = [action for action, _ in await audit_actions(database, tenant)]
    assert actions[-2:] == ["identity.user.deactivated", "identity.user.reactivated"]


async def _list_counting_queries(
    client: httpx.AsyncClient, database: Database, tenant: TenantFixture
) -> tuple[int, int]:
    """(members listed, SQL statements run) for one list request."""
    with counting(database) as statements:
        response = await client.get(USERS, headers=tenant.headers)
    return len(response.json()["items"]), len(statements)


async def test_member_list_queries_do_not_grow_with_the_page(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    await add_member(database, tenant)
    small = await _list_counting_queries(client, database, tenant)
    for _ in range(4):
        await add_member(database, tenant, role="manager")

    large = await _list_counting_queries(client, database, tenant)

    assert (small[0], large[0]) == (2, 6)
    assert small[1] == large[1]


async def test_resource_factories_make_resources_of_their_tenant(
    client: httpx.AsyncClient, database: Database
) -> None:
    from tests.identity import resource_factories  # noqa: F401  (registers the factories)
    from tests.resources import RESOURCE_FACTORIES

    tenant = await make_tenant(database)
    paths = {
        "user_id": USERS,
        "role_id": "/api/v1/identity/roles",
        "key_id": "/api/v1/identity/api-keys",
        "branch_id": "/api/v1/identity/branches",
    }

    for parameter, path in paths.items():
        made = await RESOURCE_FACTORIES[parameter](client, tenant)
        response = await client.get(f"{path}/{made}", headers=tenant.headers)
        assert response.status_code == 200, parameter
