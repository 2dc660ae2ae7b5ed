"""The console in a real browser (headless Chromium) against a live `nexus serve`, on the
engine under test: the workflows a business owner goes through."""

from __future__ import annotations

import re
from typing import Any

import httpx
from playwright.sync_api import expect

from nexus.modules import load_modules
from tests.identity.factories import TenantFixture, make_tenant, unique
from tests.mailbox import Mailbox
from tests.system.browser import Browsing, sign_in, wait_for
from tests.system.conftest import LiveServer, database_for, run_async


def test_the_owner_signs_in_and_sees_the_business_home(
    browsing: Browsing, browser_tenant: TenantFixture
) -> None:
    page = browsing.page()

    sign_in(page, browser_tenant.owner.email, browser_tenant.owner.password)

    assert page.get_by_test_id("home-title").inner_text() == f"Biz {browser_tenant.slug}"
    assert page.get_by_test_id("team-size").inner_text().strip() != ""
    assert page.get_by_test_id("sidebar").is_visible()
    browsing.screenshot(page, "home")


def test_a_phone_sized_screen_gets_the_navigation_in_a_menu(
    browsing: Browsing, browser_tenant: TenantFixture
) -> None:
    page = browsing.page(phone=True)
    sign_in(page, browser_tenant.owner.email, browser_tenant.owner.password)

    assert not page.get_by_test_id("sidebar").is_visible()
    menu = page.get_by_test_id("mobile-nav")
    assert menu.is_visible()
    menu.locator("summary").click()
    menu.get_by_role("link", name="Team").click()

    page.wait_for_url(re.compile(r".*/team$"))
    browsing.screenshot(page, "phone-team")
    width: Any = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "the page scrolls sideways on a phone"


def test_signing_out_ends_the_session(browsing: Browsing, browser_tenant: TenantFixture) -> None:
    page = browsing.page()
    sign_in(page, browser_tenant.owner.email, browser_tenant.owner.password)

    page.get_by_test_id("sign-out").click()

    page.wait_for_url(re.compile(r".*/sign-in$"))
    page.goto("/")
    assert re.search(r"/sign-in$", page.url)
    browsing.screenshot(page, "sign-in")


def test_an_invited_person_accepts_in_another_browser_and_a_role_change_takes_effect(
    browsing: Browsing, browser_tenant: TenantFixture, mailbox: Mailbox
) -> None:
    email = f"{unique('invitee')}@example.com"
    owner = browsing.page()
    sign_in(owner, browser_tenant.owner.email, browser_tenant.owner.password)
    owner.goto("/team")
    browsing.screenshot(owner, "team")

    form = owner.get_by_test_id("invite-form")
    form.get_by_label("E-mail").fill(email)
    form.get_by_label("Name (optional)").fill("Chika Invitee")
    form.get_by_label("Role").select_option("viewer")
    owner.get_by_test_id("invite-submit").click()
    expect(owner.get_by_test_id("members")).to_contain_text(email)

    link = wait_for(lambda: _link_in_mail(mailbox, email, "/accept-invitation"), what="invitation")
    invitee = browsing.page()  # a second browser context: its own cookies
    invitee.goto(link)
    browsing.screenshot(invitee, "accept-invitation")
    invitee.get_by_label("Your name").fill("Chika Invitee")
    invitee.get_by_label("Choose a password").fill(NEW_PASSWORD)
    invitee.get_by_label("The password again").fill(NEW_PASSWORD)
    invitee.get_by_test_id("invitation-submit").click()
    invitee.wait_for_url(re.compile(r".*/$"))
    expect(invitee.get_by_test_id("home-title")).to_be_visible()
    invitee.goto("/audit")
    expect(invitee.get_by_test_id("error-page")).to_be_visible()  # a viewer may not read the log

    owner.goto("/team")
    owner.get_by_test_id("members").locator("tr", has_text=email).get_by_test_id(
        "member-link"
    ).click()
    browsing.screenshot(owner, "member")
    owner.get_by_test_id("role-form").get_by_label("Role").select_option("manager")
    owner.get_by_test_id("role-submit").click()
    expect(owner.get_by_test_id("member-role")).to_have_text("manager")

    invitee.goto("/audit")
    assert not invitee.get_by_test_id("error-page").is_visible()
    assert invitee.get_by_role("link", name="Audit log").first.is_visible()
    browsing.screenshot(invitee, "audit")


def test_an_api_key_made_in_the_console_works_until_it_is_revoked(
    browsing: Browsing, browser_tenant: TenantFixture, browser_server: LiveServer
) -> None:
    page = browsing.page()
    sign_in(page, browser_tenant.owner.email, browser_tenant.owner.password)
    page.goto("/api-keys")
    browsing.screenshot(page, "api-keys")
    page.get_by_test_id("create-key").click()
    name = unique("Accounting sync")
    page.locator("#f-name").fill(name)
    page.locator('input[type="checkbox"][value="identity.user.read"]').check()
    page.get_by_test_id("key-submit").click()
    secret = page.get_by_test_id("new-key").inner_text().strip()
    browsing.screenshot(page, "api-key-created")
    me = f"{browser_server.base_url}/api/v1/me"
    assert httpx.get(me, headers={"Authorization": f"Bearer {secret}"}).status_code == 200

    page.goto("/api-keys")
    row = page.locator("tr", has_text=name)
    row.get_by_test_id("revoke-key").click()
    page.get_by_test_id("confirm-dialog").get_by_test_id("confirm-ok").click()
    expect(page.locator("tr", has_text=name).get_by_test_id("key-status")).to_contain_text(
        "Revoked"
    )

    refused = httpx.get(me, headers={"Authorization": f"Bearer {secret}"})
    assert refused.status_code == 401


def test_a_forgotten_password_is_reset_through_the_mail(
    browsing: Browsing, browser_server: LiveServer, browser_database_url: str, mailbox: Mailbox
) -> None:
    tenant = _new_tenant(browser_database_url)
    page = browsing.page()
    page.goto("/sign-in")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Email").fill(tenant.owner.email)
    page.get_by_test_id("forgot-submit").click()
    expect(page.get_by_test_id("forgot-sent")).to_be_visible()
    browsing.screenshot(page, "forgot-password")

    link = wait_for(
        lambda: _link_in_mail(mailbox, tenant.owner.email, "/reset-password"), what="reset mail"
    )
    page.goto(link)
    page.locator("#f-password").fill(NEW_PASSWORD)
    page.locator("#f-password_confirm").fill(NEW_PASSWORD)
    page.get_by_test_id("reset-submit").click()
    page.wait_for_url(re.compile(r".*/sign-in$"))

    sign_in(page, tenant.owner.email, NEW_PASSWORD)
    expect(page.get_by_test_id("home-title")).to_be_visible()
    page.goto("/profile")
    browsing.screenshot(page, "profile")


NEW_PASSWORD = "a brand new long passphrase"


def _link_in_mail(mailbox: Mailbox, address: str, path: str) -> str | None:
    messages = mailbox.to(address)
    if not messages:
        return None
    body = messages[-1].get_body(("plain",))
    assert body is not None
    found = re.search(rf"https?://\S+{re.escape(path)}\?token=[A-Za-z0-9_\-]+", body.get_content())
    return found.group(0) if found else None


def _new_tenant(database_url: str) -> TenantFixture:
    load_modules()

    async def make() -> TenantFixture:
        database = database_for(database_url)
        try:
            return await make_tenant(database)
        finally:
            await database.dispose()

    return run_async(make())
