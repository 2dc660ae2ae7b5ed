"""The account pages: forgotten and reset passwords, accepting an invitation, confirming the
e-mail address, and the profile (name, password, two-step sign-in, sessions)."""

from __future__ import annotations

import re

import httpx
import pyotp
from sqlalchemy import select

from nexus.core.audit import AuditEvent
from nexus.core.db import Database
from nexus.core.worker import Worker
from tests.console.browser_client import Console
from tests.identity.factories import PASSWORD, TenantFixture, add_member, make_tenant, unique
from tests.mailbox import Mailbox

COOKIE = "__Host-nexus_session"
NEW_PASSWORD = "a brand new long passphrase"
_CHALLENGE = re.compile(r'name="challenge_token" value="([^"]+)"')
_SECRET = re.compile(r'data-testid="mfa-secret">([A-Z2-7]+)<')


async def mailed_token(worker: Worker, mailbox: Mailbox, email: str) -> str:
    await worker.run_until_idle()
    return mailbox.token_in_last(email)


async def invite(
    client: httpx.AsyncClient, tenant: TenantFixture, email: str, *, name: str | None = None
) -> None:
    body = {"email": email, "role": "staff", **({"name": name} if name else {})}
    response = await client.post("/api/v1/identity/users", json=body, headers=tenant.headers)
    assert response.status_code == 201


async def turn_on_mfa(client: httpx.AsyncClient, tenant: TenantFixture) -> str:
    enrolled = await client.post("/api/v1/auth/mfa/totp/enrol", headers=tenant.headers)
    secret = str(enrolled.json()["secret"])
    confirmed = await client.post(
        "/api/v1/auth/mfa/totp/confirm",
        json={"code": pyotp.TOTP(secret).now()},
        headers=tenant.headers,
    )
    assert confirmed.status_code == 200
    return secret


def count(text: str, testid: str) -> int:
    return text.count(f'data-testid="{testid}"')


# --- forgotten password --------------------------------------------------------------------


async def test_forgot_password_mails_a_link_and_answers_the_same_for_an_unknown_address(
    console: Console, database: Database, worker: Worker, mailbox: Mailbox
) -> None:
    tenant = await make_tenant(database)
    stranger = f"{unique('nobody')}@example.com"
    page = await console.get("/forgot-password")
    assert page.status_code == 200
    assert count(page.text, "forgot-form") == 1

    known = await console.post("/forgot-password", {"email": tenant.owner.email})
    unknown = await console.post("/forgot-password", {"email": stranger})

    assert known.status_code == unknown.status_code == 303
    assert known.headers["location"] == unknown.headers["location"] == "/forgot-password?sent=1"
    sent = await console.get("/forgot-password?sent=1")
    assert count(sent.text, "forgot-sent") == 1
    assert "If that address has an account, we sent a link" in sent.text
    await worker.run_until_idle()
    assert [m["Subject"] for m in mailbox.to(tenant.owner.email)] == ["Reset your password"]
    assert mailbox.to(stranger) == []


async def test_forgot_password_without_an_address_names_the_field(
    console: Console, worker: Worker, mailbox: Mailbox
) -> None:
    response = await console.post("/forgot-password", {"email": ""})

    assert response.status_code == 422
    assert count(response.text, "error-email") == 1
    assert count(response.text, "forgot-sent") == 0


# --- resetting the password ----------------------------------------------------------------


async def test_reset_password_sets_it_and_signs_every_session_out(
    console: Console,
    second_console: Console,
    client: httpx.AsyncClient,
    database: Database,
    worker: Worker,
    mailbox: Mailbox,
) -> None:
    tenant = await make_tenant(database)
    await console.sign_in(tenant.owner.email)
    assert (await console.get("/")).status_code == 200
    await second_console.post("/forgot-password", {"email": tenant.owner.email})
    token = await mailed_token(worker, mailbox, tenant.owner.email)
    page = await second_console.get(f"/reset-password?token={token}")
    assert count(page.text, "reset-form") == 1

    response = await second_console.post(
        "/reset-password",
        {"token": token, "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD},
    )

    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in"
    signed_out = await second_console.get("/sign-in")
    assert "Your password is changed; sign in with it." in signed_out.text
    old_session = await console.get("/")
    assert old_session.status_code == 303
    assert old_session.headers["location"] == "/sign-in"
    assert (await client.get("/api/v1/me", headers=tenant.headers)).status_code == 401
    assert (await second_console.sign_in(tenant.owner.email, PASSWORD)).status_code == 401
    assert (await second_console.sign_in(tenant.owner.email, NEW_PASSWORD)).status_code == 303


async def test_a_reset_link_works_once(
    console: Console, database: Database, worker: Worker, mailbox: Mailbox
) -> None:
    tenant = await make_tenant(database)
    await console.post("/forgot-password", {"email": tenant.owner.email})
    token = await mailed_token(worker, mailbox, tenant.owner.email)
    fields = {"token": token, "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}
    assert (await console.post("/reset-password", fields)).status_code == 303

    again = await console.post(
        "/reset-password",
        {
            "token": token,
            "password": "yet another passphrase",
            "password_confirm": "yet another passphrase",
        },
    )

    assert again.status_code == 401
    assert "This link has expired or was already used. Ask for a new one." in again.text
    assert count(again.text, "reset-form") == 1
    assert (await console.sign_in(tenant.owner.email, NEW_PASSWORD)).status_code == 303


async def test_reset_password_with_a_bad_link_keeps_the_password(
    console: Console, database: Database
) -> None:
    tenant = await make_tenant(database)

    response = await console.post(
        "/reset-password",
        {"token": "not-a-real-token", "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD},
    )

    assert response.status_code == 401
    assert count(response.text, "form-error") == 1
    assert count(response.text, "reset-form") == 1
    assert NEW_PASSWORD not in response.text
    assert (await console.sign_in(tenant.owner.email, PASSWORD)).status_code == 303


async def test_reset_password_typed_differently_twice_names_the_confirmation(
    console: Console, database: Database, worker: Worker, mailbox: Mailbox
) -> None:
    tenant = await make_tenant(database)
    await console.post("/forgot-password", {"email": tenant.owner.email})
    token = await mailed_token(worker, mailbox, tenant.owner.email)

    response = await console.post(
        "/reset-password",
        {"token": token, "password": NEW_PASSWORD, "password_confirm": "something else entirely"},
    )

    assert response.status_code == 422
    assert count(response.text, "error-password_confirm") == 1
    assert f'name="token" value="{token}"' in response.text
    fields = {"token": token, "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}
    assert (await console.post("/reset-password", fields)).status_code == 303  # still usable


async def test_reset_password_too_short_is_named_next_to_the_field(
    console: Console, database: Database, worker: Worker, mailbox: Mailbox
) -> None:
    tenant = await make_tenant(database)
    await console.post("/forgot-password", {"email": tenant.owner.email})
    token = await mailed_token(worker, mailbox, tenant.owner.email)

    response = await console.post(
        "/reset-password", {"token": token, "password": "short", "password_confirm": "short"}
    )

    assert response.status_code == 422
    assert count(response.text, "error-password") == 1
    assert (await console.sign_in(tenant.owner.email, PASSWORD)).status_code == 303


async def test_the_reset_page_without_a_token_says_the_link_is_incomplete(
    console: Console,
) -> None:
    response = await console.get("/reset-password")

    assert response.status_code == 200
    assert "This link is incomplete" in response.text
    assert count(response.text, "reset-form") == 0


# --- accepting an invitation ---------------------------------------------------------------


async def test_a_new_person_accepts_with_name_and_password_and_is_signed_in(
    console: Console,
    second_console: Console,
    client: httpx.AsyncClient,
    database: Database,
    worker: Worker,
    mailbox: Mailbox,
) -> None:
    tenant = await make_tenant(database)
    email = f"{unique('invitee')}@example.com"
    await invite(client, tenant, email)
    token = await mailed_token(worker, mailbox, email)
    page = await console.get(f"/accept-invitation?token={token}")
    assert page.status_code == 200
    assert f"Join Biz {tenant.slug}" in page.text
    assert 'name="password"' in page.text

    response = await console.post(
        "/accept-invitation",
        {
            "token": token,
            "name": "Bola Adeyemi",
            "password": NEW_PASSWORD,
            "password_confirm": NEW_PASSWORD,
        },
    )

    assert response.status_code == 303
    assert response.headers["location"] == "/"
    assert any(h.startswith(COOKIE) for h in response.headers.get_list("set-cookie"))
    home = await console.get("/")
    assert home.status_code == 200
    assert f"Welcome to Biz {tenant.slug}." in home.text
    profile = await console.get("/profile")
    assert 'value="Bola Adeyemi"' in profile.text
    members = await client.get("/api/v1/identity/users?status=active", headers=tenant.headers)
    assert sorted(m["email"] for m in members.json()["items"]) == sorted(
        [tenant.owner.email, email]
    )
    assert (await second_console.sign_in(email, NEW_PASSWORD)).status_code == 303


async def test_accepting_with_passwords_typed_differently_names_the_confirmation(
    console: Console,
    client: httpx.AsyncClient,
    database: Database,
    worker: Worker,
    mailbox: Mailbox,
) -> None:
    tenant = await make_tenant(database)
    email = f"{unique('invitee')}@example.com"
    await invite(client, tenant, email, name="Bola")
    token = await mailed_token(worker, mailbox, email)

    response = await console.post(
        "/accept-invitation",
        {"token": token, "name": "Bola", "password": NEW_PASSWORD, "password_confirm": "other"},
    )

    assert response.status_code == 422
    assert count(response.text, "error-password_confirm") == 1
    assert COOKIE not in response.headers.get("set-cookie", "")
    still_open = await console.get(f"/accept-invitation?token={token}")
    assert count(still_open.text, "invitation-form") == 1


async def test_a_dead_invitation_link_shows_the_problem_and_no_form(console: Console) -> None:
    response = await console.get("/accept-invitation?token=not-a-real-token")

    assert response.status_code == 401
    assert "This link has expired or was already used. Ask for a new one." in response.text
    assert count(response.text, "invitation-form") == 0


async def test_someone_with_a_password_only_confirms_and_lands_in_the_new_business(
    console: Console,
    client: httpx.AsyncClient,
    database: Database,
    worker: Worker,
    mailbox: Mailbox,
) -> None:
    home_business = await make_tenant(database)
    inviting = await make_tenant(database)
    email = home_business.owner.email
    await invite(client, inviting, email)
    token = await mailed_token(worker, mailbox, email)
    page = await console.get(f"/accept-invitation?token={token}")
    assert count(page.text, "invitation-has-password") == 1
    assert 'name="password"' not in page.text

    response = await console.post("/accept-invitation", {"token": token})

    assert response.status_code == 303
    home = await console.get("/")
    assert count(home.text, "home-title") == 1
    assert f">Biz {inviting.slug}<" in home.text


async def test_accepting_with_two_step_sign_in_on_asks_for_the_code(
    console: Console,
    client: httpx.AsyncClient,
    database: Database,
    worker: Worker,
    mailbox: Mailbox,
) -> None:
    home_business = await make_tenant(database)
    secret = await turn_on_mfa(client, home_business)
    inviting = await make_tenant(database)
    email = home_business.owner.email
    await invite(client, inviting, email)
    token = await mailed_token(worker, mailbox, email)

    response = await console.post("/accept-invitation", {"token": token})

    assert response.status_code == 200
    assert count(response.text, "mfa-form") == 1
    assert COOKIE not in response.headers.get("set-cookie", "")
    challenge = _CHALLENGE.search(response.text)
    assert challenge is not None
    verified = await console.post(
        "/sign-in/mfa",
        {"challenge_token": challenge.group(1), "code": pyotp.TOTP(secret).now(), "next": "/"},
    )
    assert verified.status_code == 303
    home = await console.get("/")
    assert f">Biz {inviting.slug}<" in home.text


# --- confirming the e-mail address ---------------------------------------------------------


async def test_the_profile_mails_a_link_that_confirms_the_address(
    console: Console, database: Database, worker: Worker, mailbox: Mailbox
) -> None:
    tenant = await make_tenant(database)
    await console.sign_in(tenant.owner.email)
    before = await console.get("/profile")
    assert "not confirmed yet" in before.text
    requested = await console.post("/profile/verify-email")
    assert requested.status_code == 303
    assert "We sent you a link" in (await console.get("/profile")).text
    token = await mailed_token(worker, mailbox, tenant.owner.email)
    page = await console.get(f"/verify-email?token={token}")
    assert count(page.text, "verify-form") == 1

    response = await console.post("/verify-email", {"token": token})

    assert response.status_code == 303
    assert response.headers["location"] == "/profile"
    after = await console.get("/profile")
    assert f"Your e-mail address {tenant.owner.email} is confirmed." in after.text
    assert '<span data-testid="email-status">confirmed</span>' in after.text
    assert count(after.text, "resend-verification") == 0


async def test_a_used_confirmation_link_shows_the_problem(
    console: Console, database: Database, worker: Worker, mailbox: Mailbox
) -> None:
    tenant = await make_tenant(database)
    await console.sign_in(tenant.owner.email)
    await console.post("/profile/verify-email")
    token = await mailed_token(worker, mailbox, tenant.owner.email)
    assert (await console.post("/verify-email", {"token": token})).status_code == 303

    again = await console.post("/verify-email", {"token": token})

    assert again.status_code == 401
    assert "This link has expired or was already used. Ask for a new one." in again.text


# --- the profile ---------------------------------------------------------------------------


async def test_the_profile_needs_a_session(console: Console) -> None:
    response = await console.get("/profile")

    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in?next=%2Fprofile"


async def test_any_member_may_open_their_own_profile(console: Console, database: Database) -> None:
    tenant = await make_tenant(database)
    viewer = await add_member(database, tenant, role="viewer")
    await console.sign_in(viewer.email)

    response = await console.get("/profile")

    assert response.status_code == 200
    assert f'data-testid="profile-email">{viewer.email}<' in response.text
    assert tenant.owner.email not in response.text


async def test_changing_the_name(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    await console.sign_in(tenant.owner.email)

    response = await console.post("/profile/name", {"name": "  Ada Lovelace "})

    assert response.status_code == 303
    assert 'value="Ada Lovelace"' in (await console.get("/profile")).text
    me = await client.get("/api/v1/me", headers=tenant.headers)
    assert me.json()["name"] == "Ada Lovelace"
    async with database.transaction() as session:
        changes = list(
            await session.scalars(
                select(AuditEvent.changes).where(
                    AuditEvent.action == "identity.user.updated",
                    AuditEvent.target_id == str(tenant.owner.user_id),
                )
            )
        )
    assert changes == [["name"]]


async def test_a_blank_name_is_named_next_to_its_field(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    await console.sign_in(tenant.owner.email)

    response = await console.post("/profile/name", {"name": "   "})

    assert response.status_code == 422
    assert count(response.text, "error-name") == 1
    me = await client.get("/api/v1/me", headers=tenant.headers)
    assert me.json()["name"] == "Ada Owner"


async def test_changing_the_password_keeps_this_session_and_ends_the_others(
    console: Console, second_console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    await console.sign_in(tenant.owner.email)
    await second_console.sign_in(tenant.owner.email)

    response = await console.post(
        "/profile/password",
        {
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "new_password_confirm": NEW_PASSWORD,
        },
    )

    assert response.status_code == 303
    profile = await console.get("/profile")
    assert profile.status_code == 200
    assert "Your password is changed; your other sessions are signed out." in profile.text
    assert (await second_console.get("/")).status_code == 303
    assert (await client.get("/api/v1/me", headers=tenant.headers)).status_code == 401
    assert (await second_console.sign_in(tenant.owner.email, NEW_PASSWORD)).status_code == 303


async def test_a_wrong_current_password_changes_nothing(
    console: Console, second_console: Console, database: Database
) -> None:
    tenant = await make_tenant(database)
    await console.sign_in(tenant.owner.email)
    await second_console.sign_in(tenant.owner.email)

    response = await console.post(
        "/profile/password",
        {
            "current_password": "not the password at all",
            "new_password": NEW_PASSWORD,
            "new_password_confirm": NEW_PASSWORD,
        },
    )

    assert response.status_code == 422
    assert count(response.text, "error-current_password") == 1
    assert "not the password at all" not in response.text
    assert (await second_console.get("/")).status_code == 200
    assert (await console.get("/profile")).status_code == 200


async def test_new_passwords_typed_differently_name_the_confirmation(
    console: Console, second_console: Console, database: Database
) -> None:
    tenant = await make_tenant(database)
    await console.sign_in(tenant.owner.email)
    await second_console.sign_in(tenant.owner.email)

    response = await console.post(
        "/profile/password",
        {
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "new_password_confirm": "a different passphrase",
        },
    )

    assert response.status_code == 422
    assert count(response.text, "error-new_password_confirm") == 1
    assert (await second_console.get("/")).status_code == 200


# --- two-step sign-in ----------------------------------------------------------------------


async def enrol(console: Console) -> str:
    response = await console.post("/profile/mfa/enrol")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert 'src="data:image/svg+xml' in response.text
    found = _SECRET.search(response.text)
    assert found is not None
    return found.group(1)


async def test_two_step_sign_in_enrol_confirm_then_sign_in_with_a_code(
    console: Console, database: Database
) -> None:
    tenant = await make_tenant(database)
    await console.sign_in(tenant.owner.email)
    secret = await enrol(console)

    confirmed = await console.post("/profile/mfa/confirm", {"code": pyotp.TOTP(secret).now()})

    assert confirmed.status_code == 303
    profile = await console.get("/profile")
    assert "Two-step sign-in is on." in profile.text
    assert count(profile.text, "mfa-disable") == 1
    await console.post("/sign-out")
    step = await console.sign_in(tenant.owner.email)
    assert step.status_code == 200
    assert count(step.text, "mfa-form") == 1
    challenge = _CHALLENGE.search(step.text)
    assert challenge is not None
    signed_in = await console.post(
        "/sign-in/mfa",
        {"challenge_token": challenge.group(1), "code": pyotp.TOTP(secret).now(), "next": "/"},
    )
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == "/"
    assert (await console.get("/")).status_code == 200


async def test_a_wrong_code_leaves_two_step_sign_in_off(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    await console.sign_in(tenant.owner.email)
    secret = await enrol(console)
    wrong = "000000" if pyotp.TOTP(secret).now() != "000000" else "111111"

    response = await console.post("/profile/mfa/confirm", {"code": wrong})

    assert response.status_code == 422
    assert count(response.text, "error-code") == 1
    assert "Not finished" in response.text
    assert (await client.get("/api/v1/me", headers=tenant.headers)).json()["mfa_enabled"] is False


async def test_turning_two_step_sign_in_off_needs_a_current_code(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    secret = await turn_on_mfa(client, tenant)
    challenge = _CHALLENGE.search((await console.sign_in(tenant.owner.email)).text)
    assert challenge is not None
    await console.post(
        "/sign-in/mfa",
        {"challenge_token": challenge.group(1), "code": pyotp.TOTP(secret).now(), "next": "/"},
    )
    wrong = "000000" if pyotp.TOTP(secret).now() != "000000" else "111111"

    refused = await console.post("/profile/mfa/disable", {"code": wrong})
    assert refused.status_code == 422
    assert count(refused.text, "error-code") == 1
    assert (await client.get("/api/v1/me", headers=tenant.headers)).json()["mfa_enabled"] is True

    response = await console.post("/profile/mfa/disable", {"code": pyotp.TOTP(secret).now()})

    assert response.status_code == 303
    assert (await client.get("/api/v1/me", headers=tenant.headers)).json()["mfa_enabled"] is False
    assert "Two-step sign-in is off." in (await console.get("/profile")).text


# --- sessions ------------------------------------------------------------------------------


async def test_the_sessions_list_and_signing_out_the_others(
    console: Console, second_console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    # The factory's API session is signed out, so only the two browsers remain.
    await client.post("/api/v1/auth/logout", headers=tenant.headers)
    await console.sign_in(tenant.owner.email)
    await second_console.sign_in(tenant.owner.email)

    profile = await console.get("/profile")

    assert count(profile.text, "session-kind") == 2
    assert count(profile.text, "current-session") == 1
    assert 'data-testid="session-address">203.0.113.9<' in profile.text
    assert 'data-testid="session-address">203.0.113.10<' in profile.text
    response = await console.post("/profile/sessions/sign-out-others")
    assert response.status_code == 303
    assert (await second_console.get("/")).status_code == 303
    after = await console.get("/profile")
    assert "Your other sessions are signed out." in after.text
    assert count(after.text, "session-kind") == 1
    assert count(after.text, "current-session") == 1
    assert count(after.text, "sign-out-others") == 0
