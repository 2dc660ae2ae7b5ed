"""The team pages: the members list, inviting, a member's role, deactivation, invitations."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest

from nexus.console.pages import team as team_pages
from nexus.core.db import Database
from nexus.core.worker import Worker
from tests.console.browser_client import Console
from tests.identity.factories import TenantFixture, add_member, make_tenant, unique
from tests.mailbox import Mailbox

USERS = "/api/v1/identity/users"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def api_member(client: httpx.AsyncClient, tenant: TenantFixture, user_id: Any) -> Any:
    response = await client.get(f"{USERS}/{user_id}", headers=tenant.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def api_members(client: httpx.AsyncClient, tenant: TenantFixture) -> list[tuple[str, str]]:
    response = await client.get(USERS, headers=tenant.headers)
    return [(m["email"], m["status"]) for m in response.json()["items"]]


def emails_listed(html: str) -> list[str]:
    return re.findall(r'data-testid="member-email">([^<]+)<', html)


# --- the list ------------------------------------------------------------------------------


async def test_the_team_lists_every_member_with_role_and_status(
    console: Console, database: Database
) -> None:
    tenant = await make_tenant(database)
    manager = await add_member(database, tenant, role="manager")
    await console.sign_in(tenant.owner.email)

    response = await console.get("/team")

    assert response.status_code == 200
    assert emails_listed(response.text) == [tenant.owner.email, manager.email]
    assert re.findall(r'data-testid="member-role">(\w+)<', response.text) == ["owner", "manager"]
    assert response.text.count('data-testid="member-status">Active<') == 2
    assert f'href="/team/{manager.user_id}"' in response.text
    assert 'data-testid="invite-form"' in response.text
    assert 'data-testid="next-page"' not in response.text


async def test_search_and_filters_narrow_the_list(console: Console, database: Database) -> None:
    tenant = await make_tenant(database)
    manager = await add_member(database, tenant, role="manager")
    staff = await add_member(database, tenant, role="staff")
    await console.sign_in(tenant.owner.email)

    by_text = await console.get("/team", params={"q": staff.email.split("@")[0].upper()})
    by_role = await console.get("/team", params={"role": "manager", "status": "", "q": ""})
    by_status = await console.get("/team", params={"status": "invited"})

    assert emails_listed(by_text.text) == [staff.email]
    assert emails_listed(by_role.text) == [manager.email]
    assert '<option value="manager" selected>' in by_role.text
    assert emails_listed(by_status.text) == []
    assert 'data-testid="empty-state"' in by_status.text
    assert "No one matches" in by_status.text


async def test_an_unknown_status_filter_is_refused(console: Console, database: Database) -> None:
    tenant = await make_tenant(database)
    await console.sign_in(tenant.owner.email)

    response = await console.get("/team", params={"status": "sleeping"})

    assert response.status_code == 422
    assert 'data-testid="error-page"' in response.text


async def test_the_next_page_keeps_the_filters(
    console: Console, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = await make_tenant(database)
    first = await add_member(database, tenant, role="staff")
    second = await add_member(database, tenant, role="staff")
    await add_member(database, tenant, role="manager")
    monkeypatch.setattr(team_pages, "PAGE_SIZE", 1)
    await console.sign_in(tenant.owner.email)

    page_one = await console.get("/team", params={"role": "staff"})
    link = re.search(r'href="(/team\?[^"]+)"[^>]*data-testid="next-page"', page_one.text)
    assert link is not None
    page_two = await console.get(link.group(1))

    assert emails_listed(page_one.text) == [first.email]
    assert link.group(1).startswith("/team?role=staff&cursor=")
    assert emails_listed(page_two.text) == [second.email]
    assert 'data-testid="next-page"' not in page_two.text


# --- inviting ------------------------------------------------------------------------------


async def test_inviting_lists_the_person_as_invited_and_mails_the_link(
    console: Console,
    client: httpx.AsyncClient,
    database: Database,
    worker: Worker,
    mailbox: Mailbox,
) -> None:
    tenant = await make_tenant(database)
    await console.sign_in(tenant.owner.email)
    email = f"{unique('invitee')}@example.com"

    response = await console.post(
        "/team/invite", {"email": email, "name": "Ike Invitee", "role": "manager"}
    )

    assert response.status_code == 303
    assert response.headers["location"] == "/team"
    page = await console.get("/team")
    assert f"We sent an invitation to {email}." in page.text
    assert emails_listed(page.text) == [tenant.owner.email, email]
    assert 'data-testid="member-status">Invited<' in page.text
    assert (await api_members(client, tenant))[-1] == (email, "invited")
    await worker.run_until_idle()
    mail = mailbox.last_to(email)
    assert mail["Subject"] == f"You are invited to join Biz {tenant.slug} on NEXUS"
    body = mail.get_body(("plain",))
    assert body is not None
    assert "http://nexus.test/accept-invitation?token=" in body.get_content()


async def test_an_invalid_invitation_names_the_field_and_invites_no_one(
    console: Console,
    client: httpx.AsyncClient,
    database: Database,
    worker: Worker,
    mailbox: Mailbox,
) -> None:
    tenant = await make_tenant(database)
    await console.sign_in(tenant.owner.email)

    response = await console.post(
        "/team/invite", {"email": "not-an-address", "name": "Nobody", "role": "staff"}
    )

    assert response.status_code == 422
    assert 'data-testid="error-email"' in response.text
    assert 'value="not-an-address"' in response.text  # what was typed is kept
    assert await api_members(client, tenant) == [(tenant.owner.email, "active")]
    await worker.run_until_idle()
    assert mailbox.to("not-an-address") == []


async def test_inviting_a_member_again_shows_the_conflict(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    staff = await add_member(database, tenant)
    await console.sign_in(tenant.owner.email)

    response = await console.post("/team/invite", {"email": staff.email, "role": "manager"})

    assert response.status_code == 409
    assert f"{staff.email} is already a member (any status)" in response.text
    assert (await api_member(client, tenant, staff.user_id))["role"] == "staff"


async def test_resending_an_invitation_mails_a_new_link(
    console: Console,
    database: Database,
    worker: Worker,
    mailbox: Mailbox,
    client: httpx.AsyncClient,
) -> None:
    tenant = await make_tenant(database)
    await console.sign_in(tenant.owner.email)
    email = f"{unique('invitee')}@example.com"
    await console.post("/team/invite", {"email": email, "role": "staff"})
    await worker.run_until_idle()
    first_token = mailbox.token_in_last(email)
    user_id = next(
        m["user_id"]
        for m in (await client.get(USERS, headers=tenant.headers)).json()["items"]
        if m["email"] == email
    )
    member_page = await console.get(f"/team/{user_id}")
    assert 'data-testid="resend-invitation"' in member_page.text

    response = await console.post(f"/team/{user_id}/resend-invitation")

    assert response.status_code == 303
    await worker.run_until_idle()
    assert len(mailbox.to(email)) == 2
    assert mailbox.token_in_last(email) != first_token


# --- one member ----------------------------------------------------------------------------


async def test_changing_the_role_takes_effect_on_the_members_next_call(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    staff = await add_member(database, tenant, role="staff")
    roles_api = "/api/v1/identity/roles"
    assert (await client.get(roles_api, headers=staff.headers)).status_code == 403
    await console.sign_in(tenant.owner.email)
    page = await console.get(f"/team/{staff.user_id}")
    assert 'name="version" value="1"' in page.text

    response = await console.post(f"/team/{staff.user_id}", {"role": "manager", "version": "1"})

    assert response.status_code == 303
    assert response.headers["location"] == f"/team/{staff.user_id}"
    after = await console.get(f"/team/{staff.user_id}")
    assert 'data-testid="member-role">manager<' in after.text
    assert "Bola Member&#39;s role is now manager." in after.text
    assert (await client.get(roles_api, headers=staff.headers)).status_code == 200
    assert (await api_member(client, tenant, staff.user_id))["version"] == 2


async def test_a_stale_version_shows_the_conflict_and_changes_nothing(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    staff = await add_member(database, tenant, role="staff")
    changed = await client.patch(
        f"{USERS}/{staff.user_id}", json={"role": "viewer", "version": 1}, headers=tenant.headers
    )
    assert changed.status_code == 200
    await console.sign_in(tenant.owner.email)
    await console.get(f"/team/{staff.user_id}")

    response = await console.post(f"/team/{staff.user_id}", {"role": "manager", "version": "1"})

    assert response.status_code == 412
    assert 'data-testid="form-error"' in response.text
    assert "Someone else changed this member while you were looking." in response.text
    assert 'name="version" value="2"' in response.text
    assert (await api_member(client, tenant, staff.user_id))["role"] == "viewer"


async def test_an_unknown_role_is_named_next_to_the_field(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    staff = await add_member(database, tenant, role="staff")
    await console.sign_in(tenant.owner.email)
    await console.get(f"/team/{staff.user_id}")

    response = await console.post(f"/team/{staff.user_id}", {"role": "wizard", "version": "1"})

    assert response.status_code == 422
    assert 'data-testid="error-role"' in response.text
    assert (await api_member(client, tenant, staff.user_id))["role"] == "staff"


async def test_deactivating_ends_access_and_reactivating_restores_the_member(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    staff = await add_member(database, tenant, role="staff")
    await console.sign_in(tenant.owner.email)
    page = await console.get(f"/team/{staff.user_id}")
    assert 'data-confirm="Deactivate Bola Member? They are signed out at once."' in page.text

    response = await console.post(f"/team/{staff.user_id}/deactivate")

    assert response.status_code == 303
    assert (await api_member(client, tenant, staff.user_id))["status"] == "deactivated"
    assert (await client.get("/api/v1/me", headers=staff.headers)).status_code == 401
    deactivated = await console.get(f"/team/{staff.user_id}")
    assert 'data-testid="reactivate"' in deactivated.text

    again = await console.post(f"/team/{staff.user_id}/reactivate")

    assert again.status_code == 303
    assert (await api_member(client, tenant, staff.user_id))["status"] == "active"


async def test_the_last_owner_cannot_be_taken_away(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    await console.sign_in(tenant.owner.email)
    await console.get(f"/team/{tenant.owner.user_id}")

    response = await console.post(
        f"/team/{tenant.owner.user_id}", {"role": "admin", "version": "1"}
    )

    assert response.status_code == 409
    assert "Make someone else an owner first" in response.text
    assert (await api_member(client, tenant, tenant.owner.user_id))["role"] == "owner"


# --- who may do what -----------------------------------------------------------------------


async def test_staff_see_the_team_but_no_forms(console: Console, database: Database) -> None:
    tenant = await make_tenant(database)
    staff = await add_member(database, tenant, role="staff")
    other = await add_member(database, tenant, role="staff")
    await console.sign_in(staff.email)

    listing = await console.get("/team")
    member = await console.get(f"/team/{other.user_id}")

    assert listing.status_code == 200
    assert emails_listed(listing.text) == [tenant.owner.email, staff.email, other.email]
    assert 'data-testid="invite-form"' not in listing.text
    assert member.status_code == 200
    for testid in ("role-form", "deactivate", "reactivate", "resend-invitation"):
        assert f'data-testid="{testid}"' not in member.text


async def test_staff_posts_are_refused_and_change_nothing(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    staff = await add_member(database, tenant, role="staff")
    other = await add_member(database, tenant, role="staff")
    await console.sign_in(staff.email)
    await console.get("/team")
    email = f"{unique('invitee')}@example.com"

    invited = await console.post("/team/invite", {"email": email, "role": "staff"})
    promoted = await console.post(f"/team/{other.user_id}", {"role": "admin", "version": "1"})
    deactivated = await console.post(f"/team/{other.user_id}/deactivate")

    assert [invited.status_code, promoted.status_code, deactivated.status_code] == [403, 403, 403]
    assert 'data-testid="error-page"' in promoted.text
    assert len(await api_members(client, tenant)) == 3
    after = await api_member(client, tenant, other.user_id)
    assert (after["role"], after["status"]) == ("staff", "active")


async def test_a_viewer_may_not_open_the_team(console: Console, database: Database) -> None:
    tenant = await make_tenant(database)
    viewer = await add_member(database, tenant, role="viewer")
    await console.sign_in(viewer.email)

    response = await console.get("/team")

    assert response.status_code == 403


async def test_another_business_member_is_not_found_and_left_alone(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    ours = await make_tenant(database)
    theirs = await make_tenant(database)
    stranger = await add_member(database, theirs, role="staff")
    await console.sign_in(ours.owner.email)
    await console.get("/team")

    shown = await console.get(f"/team/{stranger.user_id}")
    promoted = await console.post(f"/team/{stranger.user_id}", {"role": "admin", "version": "1"})
    deactivated = await console.post(f"/team/{stranger.user_id}/deactivate")
    resent = await console.post(f"/team/{stranger.user_id}/resend-invitation")
    unknown = await console.get(f"/team/{uuid.uuid4()}")

    assert [shown.status_code, promoted.status_code, deactivated.status_code] == [404, 404, 404]
    assert [resent.status_code, unknown.status_code] == [404, 404]
    assert stranger.email not in shown.text
    after = await api_member(client, theirs, stranger.user_id)
    assert (after["role"], after["status"], after["version"]) == ("staff", "active", 1)
