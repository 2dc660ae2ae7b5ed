"""The CRM's console forms in a real browser against a live `nexus serve`: a contact is added
through the form with custom fields (text and choice) and is then seen on its page."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.identity.factories import TenantFixture, unique
from tests.system.browser import Browsing, sign_in
from tests.system.conftest import LiveServer
from tests.system.test_crm_browser import api, crm_tenant  # noqa: F401 (the fixture)


def test_a_contact_is_added_through_the_form_with_its_custom_fields(
    browsing: Browsing,
    browser_server: LiveServer,
    crm_tenant: TenantFixture,  # noqa: F811
) -> None:
    with api(browser_server, crm_tenant) as http:
        for body in (
            {"entity": "contact", "key": "loyalty_card", "label": "Loyalty card", "kind": "text"},
            {
                "entity": "contact",
                "key": "blood_group",
                "label": "Blood group",
                "kind": "choice",
                "choices": ["A", "B", "O"],
            },
        ):
            made = http.post("/api/v1/crm/fields", json=body)
            assert made.status_code == 201, made.text
    surname = unique("Formed").replace("-", "")
    page = browsing.page(phone=True)
    sign_in(page, crm_tenant.owner.email, crm_tenant.owner.password)
    page.goto("/crm/contacts")

    page.get_by_test_id("new-contact").click()
    form = page.get_by_test_id("contact-form")
    form.locator('[name="first_name"]').fill("Amaka")
    form.locator('[name="last_name"]').fill(surname)
    form.locator('[name="email"]').fill(f"{surname.lower()}@example.com")
    form.locator('[name="custom.loyalty_card"]').fill("LC-4471")
    form.locator('[name="custom.blood_group"]').select_option("O")
    browsing.screenshot(page, "crm-contact-form")
    page.get_by_test_id("save-contact").click()

    expect(page.get_by_test_id("flash")).to_contain_text("The contact is added.")
    expect(page.get_by_test_id("contact-title")).to_have_text(f"Amaka {surname}")
    values = page.get_by_test_id("contact-details").get_by_test_id("custom-value")
    expect(values).to_have_text(["LC-4471", "O"])
    contact_id = page.url.rstrip("/").rsplit("/", 1)[1]
    with api(browser_server, crm_tenant) as http:
        held = http.get(f"/api/v1/crm/contacts/{contact_id}").json()
    assert held["custom"] == {"loyalty_card": "LC-4471", "blood_group": "O"}


def test_a_pipeline_stage_is_moved_up_and_removed_after_confirming(
    browsing: Browsing,
    browser_server: LiveServer,
    crm_tenant: TenantFixture,  # noqa: F811
) -> None:
    stages = [
        {"name": "Qualified", "key": "qualified"},
        {"name": "Proposal", "key": "proposal"},
        {"name": "Won", "key": "won", "kind": "won"},
        {"name": "Lost", "key": "lost", "kind": "lost"},
    ]
    with api(browser_server, crm_tenant) as http:
        key = unique("p").replace("-", "_")
        made = http.post(
            "/api/v1/crm/pipelines", json={"name": "Orders", "key": key, "stages": stages}
        )
        assert made.status_code == 201, made.text
        pipeline_id = made.json()["id"]
    page = browsing.page()
    sign_in(page, crm_tenant.owner.email, crm_tenant.owner.password)
    page.goto(f"/crm/pipelines/{pipeline_id}/board")
    page.get_by_test_id("edit-pipeline").click()
    rows = page.get_by_test_id("stage-row")

    rows.nth(1).get_by_test_id("stage-up").click()
    expect(page.get_by_test_id("flash")).to_contain_text("The pipeline is saved.")
    expect(rows.nth(0).locator('[name="stages.0.name"]')).to_have_value("Proposal")
    rows.nth(1).get_by_test_id("stage-remove").click()
    page.get_by_test_id("confirm-dialog").get_by_test_id("confirm-ok").click()
    expect(page.get_by_test_id("flash")).to_contain_text("The pipeline is saved.")
    expect(rows).to_have_count(3)
    browsing.screenshot(page, "crm-pipeline-form")

    with api(browser_server, crm_tenant) as http:
        held = http.get(f"/api/v1/crm/pipelines/{pipeline_id}").json()
    assert [stage["name"] for stage in held["stages"]] == ["Proposal", "Won", "Lost"]
