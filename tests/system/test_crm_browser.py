"""The CRM's pipeline board in a real browser against a live `nexus serve`: a deal card dragged
to another stage's column moves the deal, and the card's "Move to" form does the same."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from nexus.modules import load_modules
from tests.identity.factories import TenantFixture, make_tenant, unique
from tests.system.browser import Browsing, sign_in
from tests.system.conftest import LiveServer, database_for, run_async

STAGES: list[dict[str, Any]] = [
    {"name": "Qualified", "key": "qualified"},
    {"name": "Proposal", "key": "proposal"},
    {"name": "Won", "key": "won", "kind": "won"},
    {"name": "Lost", "key": "lost", "kind": "lost"},
]


@pytest.fixture(scope="module")
def crm_tenant(browser_server: LiveServer, browser_database_url: str) -> TenantFixture:
    load_modules()

    async def make() -> TenantFixture:
        database = database_for(browser_database_url)
        try:
            return await make_tenant(database, modules=["crm"])
        finally:
            await database.dispose()

    return run_async(make())


def api(server: LiveServer, tenant: TenantFixture) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, headers=tenant.headers, timeout=15)


def pipeline_with_a_deal(
    server: LiveServer, tenant: TenantFixture, title: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    with api(server, tenant) as http:
        key = unique("p").replace("-", "_")
        made = http.post(
            "/api/v1/crm/pipelines", json={"name": "Sales", "key": key, "stages": STAGES}
        )
        assert made.status_code == 201, made.text
        pipeline: dict[str, Any] = made.json()
        body = {"title": title, "pipeline_id": pipeline["id"], "amount": {"amount_minor": 500000}}
        opened = http.post("/api/v1/crm/deals", json=body)
        assert opened.status_code == 201, opened.text
        deal: dict[str, Any] = opened.json()
    return pipeline, deal


def stage_of(server: LiveServer, tenant: TenantFixture, deal: dict[str, Any]) -> str:
    with api(server, tenant) as http:
        stage: str = http.get(f"/api/v1/crm/deals/{deal['id']}").json()["stage_id"]
    return stage


def test_a_deal_card_is_dragged_to_another_stage(
    browsing: Browsing, browser_server: LiveServer, crm_tenant: TenantFixture
) -> None:
    pipeline, deal = pipeline_with_a_deal(browser_server, crm_tenant, "Dragged order")
    stages = {stage["key"]: stage["id"] for stage in pipeline["stages"]}
    page = browsing.page()
    sign_in(page, crm_tenant.owner.email, crm_tenant.owner.password)
    page.goto(f"/crm/pipelines/{pipeline['id']}/board")
    card = page.get_by_test_id("stage-qualified").get_by_test_id("deal-card")
    expect(card.get_by_test_id("deal-title")).to_have_text("Dragged order")

    card.drag_to(page.get_by_test_id("stage-proposal"), source_position={"x": 12, "y": 12})

    expect(page.get_by_test_id("flash")).to_contain_text("Dragged order is moved.")
    moved = page.get_by_test_id("stage-proposal").get_by_test_id("deal-title")
    expect(moved).to_have_text("Dragged order")
    browsing.screenshot(page, "crm-board")
    assert stage_of(browser_server, crm_tenant, deal) == stages["proposal"]


def test_the_move_to_form_moves_a_deal_without_dragging(
    browsing: Browsing, browser_server: LiveServer, crm_tenant: TenantFixture
) -> None:
    pipeline, deal = pipeline_with_a_deal(browser_server, crm_tenant, "Chosen order")
    stages = {stage["key"]: stage["id"] for stage in pipeline["stages"]}
    page = browsing.page(phone=True)
    sign_in(page, crm_tenant.owner.email, crm_tenant.owner.password)
    page.goto(f"/crm/pipelines/{pipeline['id']}/board")
    card = page.get_by_test_id("stage-qualified").get_by_test_id("deal-card")

    card.get_by_test_id("move-to").select_option(label="Won")
    card.get_by_test_id("move-submit").click()

    expect(page.get_by_test_id("flash")).to_contain_text("Chosen order is moved.")
    won = page.get_by_test_id("stage-won").get_by_test_id("deal-title")
    expect(won).to_have_text("Chosen order")
    assert stage_of(browser_server, crm_tenant, deal) == stages["won"]


def test_a_deal_card_is_dragged_by_touch_on_a_phone(
    browsing: Browsing, browser_server: LiveServer, crm_tenant: TenantFixture
) -> None:
    pipeline, deal = pipeline_with_a_deal(browser_server, crm_tenant, "Touched order")
    stages = {stage["key"]: stage["id"] for stage in pipeline["stages"]}
    page = browsing.page(phone=True)
    sign_in(page, crm_tenant.owner.email, crm_tenant.owner.password)
    page.goto(f"/crm/pipelines/{pipeline['id']}/board")
    card = page.get_by_test_id("stage-qualified").get_by_test_id("deal-card")
    start = card.bounding_box()
    target = page.get_by_test_id("stage-proposal").bounding_box()
    assert start is not None and target is not None
    x, y = start["x"] + 12, start["y"] + 12
    to_x, to_y = target["x"] + 20, target["y"] + target["height"] / 2

    touch = page.context.new_cdp_session(page)
    touch.send(
        "Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]}
    )
    for step in range(1, 6):
        point = {"x": x + (to_x - x) * step / 5, "y": y + (to_y - y) * step / 5}
        touch.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [point]})
    touch.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})

    expect(page.get_by_test_id("flash")).to_contain_text("Touched order is moved.")
    assert stage_of(browser_server, crm_tenant, deal) == stages["proposal"]


# --- contact imports and erasure -----------------------------------------------------------


def csv_payload(text: str) -> dict[str, Any]:
    return {"name": "people.csv", "mimeType": "text/csv", "buffer": text.encode()}


def test_an_import_with_a_bad_row_is_reported_then_its_valid_rows_imported(
    browsing: Browsing, browser_server: LiveServer, crm_tenant: TenantFixture
) -> None:
    surname = unique("Imported").replace("-", "")
    text = (
        "first_name,last_name,email\n"
        f"Amaka,{surname},{surname.lower()}@example.com\n"
        "Bayo,Broken,not-an-email\n"
    )
    page = browsing.page()
    sign_in(page, crm_tenant.owner.email, crm_tenant.owner.password)
    page.goto("/crm/contacts")
    page.get_by_test_id("import-contacts").click()
    page.get_by_test_id("import-file").set_input_files(csv_payload(text))
    page.get_by_test_id("import-submit").click()

    expect(page.get_by_test_id("import-status")).to_have_attribute("data-status", "invalid")
    expect(page.get_by_test_id("problem-row")).to_have_text("3")
    expect(page.get_by_test_id("problem-column")).to_have_text("email")
    browsing.screenshot(page, "crm-import-report")

    page.get_by_test_id("import-only-valid-rows").click()
    expect(page.get_by_test_id("import-only-valid")).to_be_checked()
    page.get_by_test_id("import-file").set_input_files(csv_payload(text))
    page.get_by_test_id("import-submit").click()

    status = page.get_by_test_id("import-status")
    expect(status).to_have_attribute("data-status", "done", timeout=20_000)
    expect(page.get_by_test_id("import-written")).to_have_text("1")
    page.goto("/crm/contacts?q=" + surname)
    expect(page.get_by_test_id("contact-name")).to_have_text(f"Amaka {surname}")


def test_a_contact_is_erased_after_confirming(
    browsing: Browsing, browser_server: LiveServer, crm_tenant: TenantFixture
) -> None:
    with api(browser_server, crm_tenant) as http:
        made = http.post(
            "/api/v1/crm/contacts",
            json={"first_name": "Erin", "last_name": "Gone", "email": unique("erin") + "@x.ng"},
        )
        assert made.status_code == 201, made.text
        contact_id = made.json()["id"]
    page = browsing.page(phone=True)
    sign_in(page, crm_tenant.owner.email, crm_tenant.owner.password)
    page.goto(f"/crm/contacts/{contact_id}")

    page.get_by_test_id("erase-contact").click()
    page.get_by_test_id("confirm-dialog").get_by_test_id("confirm-ok").click()

    expect(page.get_by_test_id("flash")).to_contain_text("The contact is erased.")
    expect(page.get_by_test_id("contact-title")).to_have_text("Erased contact")
    with api(browser_server, crm_tenant) as http:
        held = http.get(f"/api/v1/crm/contacts/{contact_id}").json()
    assert (held["first_name"], held["last_name"], held["email"]) == ("Erased contact", "", None)
