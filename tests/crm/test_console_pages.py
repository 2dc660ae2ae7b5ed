"""The CRM's console pages: contacts, a contact's page, companies, and the pipeline board."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from nexus.core.db import Database
from nexus.core.worker import Worker
from tests.console.browser_client import Console
from tests.crm.dealkit import crm_tenant, make_deal, make_pipeline, stage_ids
from tests.identity.factories import TenantFixture, add_member

CONTACTS = "/api/v1/crm/contacts"
COMPANIES = "/api/v1/crm/companies"


@pytest.fixture
async def console(app) -> AsyncIterator[Console]:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=app, client=("203.0.113.19", 50019))
    async with httpx.AsyncClient(transport=transport, base_url="https://nexus.test") as http:
        yield Console(http)


async def add(
    client: httpx.AsyncClient, tenant: TenantFixture, path: str, **body: Any
) -> dict[str, Any]:
    response = await client.post(path, json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text
    found: dict[str, Any] = response.json()
    return found


def names(html: str, testid: str) -> list[str]:
    return re.findall(rf'data-testid="{testid}">([^<]+)<', html)


# --- contacts ------------------------------------------------------------------------------


async def test_the_contact_list_searches_filters_and_pages(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    await add(client, tenant, CONTACTS, first_name="Ada", last_name="Obi", tags=["vip"])
    await add(client, tenant, CONTACTS, first_name="Bayo", last_name="Ade")
    await console.sign_in(tenant.owner.email)

    everyone = await console.get("/crm/contacts")
    found = await console.get("/crm/contacts", params={"q": "ada"})
    tagged = await console.get("/crm/contacts", params={"tag": "vip"})
    nobody = await console.get("/crm/contacts", params={"q": "zzz"})

    assert everyone.status_code == 200
    assert sorted(names(everyone.text, "contact-name")) == ["Ada Obi", "Bayo Ade"]
    assert names(found.text, "contact-name") == ["Ada Obi"]
    assert names(tagged.text, "contact-name") == ["Ada Obi"]
    assert 'data-testid="empty-state"' in nobody.text
    assert 'href="/crm/contacts"' in everyone.text  # the navigation entry


async def test_an_empty_business_shows_the_empty_state(
    console: Console, database: Database
) -> None:
    tenant = await crm_tenant(database)
    await console.sign_in(tenant.owner.email)

    response = await console.get("/crm/contacts")

    assert response.status_code == 200
    assert "No contacts yet" in response.text


async def test_the_contact_page_shows_details_timeline_and_consent(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    contact = await add(
        client, tenant, CONTACTS, first_name="Ada", last_name="Obi", email="ada@example.com"
    )
    await console.sign_in(tenant.owner.email)
    page = f"/crm/contacts/{contact['id']}"

    logged = await console.post(f"{page}/activities", {"kind": "call", "subject": "Intro call"})
    consented = await console.post(
        f"{page}/consents", {"channel": "sms", "purpose": "offers", "source": "shop form"}
    )
    response = await console.get(page)

    assert (logged.status_code, logged.headers["location"]) == (303, page)
    assert (consented.status_code, consented.headers["location"]) == (303, page)
    assert names(response.text, "contact-title") == ["Ada Obi"]
    assert names(response.text, "contact-email") == ["ada@example.com"]
    assert names(response.text, "timeline-activity") == ["Intro call"]
    assert "crm.contact.created" in names(response.text, "timeline-audit")
    assert names(response.text, "consent-channel") == ["sms"]
    assert names(response.text, "consent-status") == ["Active"]
    assert 'data-testid="erase-contact"' in response.text
    assert f'href="{page}/export"' in response.text


async def test_a_bad_activity_is_shown_on_the_form(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    contact = await add(client, tenant, CONTACTS, first_name="Ada")
    await console.sign_in(tenant.owner.email)

    response = await console.post(
        f"/crm/contacts/{contact['id']}/activities", {"kind": "call", "subject": ""}
    )

    assert response.status_code == 422
    assert 'data-testid="error-subject"' in response.text


async def test_consent_is_withdrawn_and_the_contact_exported_and_erased(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    contact = await add(client, tenant, CONTACTS, first_name="Ada", email="ada@example.com")
    page = f"/crm/contacts/{contact['id']}"
    await console.sign_in(tenant.owner.email)
    await console.post(f"{page}/consents", {"channel": "email", "purpose": "news", "source": "x"})
    consents = await client.get(f"{CONTACTS}/{contact['id']}/consents", headers=tenant.headers)
    consent_id = consents.json()["items"][0]["id"]

    withdrawn = await console.post(f"{page}/consents/{consent_id}/withdraw")
    export = await console.get(f"{page}/export")
    erased = await console.post(f"{page}/erase")

    assert withdrawn.status_code == 303
    after = await client.get(f"{CONTACTS}/{contact['id']}/consents", headers=tenant.headers)
    assert after.json()["items"][0]["is_active"] is False
    assert export.status_code == 200
    assert export.headers["content-disposition"].startswith("attachment")
    assert export.json()["contact"]["email"] == "ada@example.com"
    assert erased.status_code == 303
    held = await client.get(f"{CONTACTS}/{contact['id']}", headers=tenant.headers)
    assert held.json()["email"] is None


async def test_sensitive_fields_show_only_to_holders_of_the_permission(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    for key, sensitive in (("nin", True), ("shoe_size", False)):
        body = {"entity": "contact", "key": key, "label": key.upper(), "kind": "text"}
        await add(client, tenant, "/api/v1/crm/fields", **body, sensitive=sensitive)
    contact = await add(
        client, tenant, CONTACTS, first_name="Ada", custom={"nin": "12345678901", "shoe_size": "40"}
    )
    reader = await add_member(database, tenant, permissions=["crm.contact.read", "crm.record.all"])
    await console.sign_in(reader.email)

    hidden = await console.get(f"/crm/contacts/{contact['id']}")
    await console.http.post("/sign-out", data={"csrf_token": console.csrf})
    await console.sign_in(tenant.owner.email)
    shown = await console.get(f"/crm/contacts/{contact['id']}")

    assert names(hidden.text, "custom-value") == ["40"]
    assert 'data-testid="sensitive-hidden"' in hidden.text
    assert 'data-testid="timeline"' not in hidden.text
    assert 'data-testid="activity-form"' not in hidden.text
    assert sorted(names(shown.text, "custom-value")) == ["12345678901", "40"]


async def test_a_role_without_the_permission_gets_403(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    contact = await add(client, tenant, CONTACTS, first_name="Ada")
    member = await add_member(database, tenant, permissions=["crm.deal.read"])
    await console.sign_in(member.email)

    for path in ("/crm/contacts", f"/crm/contacts/{contact['id']}", "/crm/companies"):
        assert (await console.get(path)).status_code == 403, path
    refused = await console.post(f"/crm/contacts/{contact['id']}/erase")
    assert refused.status_code == 403
    held = await client.get(f"{CONTACTS}/{contact['id']}", headers=tenant.headers)
    assert held.json()["first_name"] == "Ada"


async def test_another_business_records_are_404(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    other = await crm_tenant(database)
    contact = await add(client, other, CONTACTS, first_name="Ada", email="a@example.com")
    company = await add(client, other, COMPANIES, name="Other Ltd")
    pipeline = await make_pipeline(client, other)
    deal = await make_deal(client, other.headers, pipeline_id=pipeline["id"])
    stage = stage_ids(pipeline)["proposal"]
    await console.sign_in(tenant.owner.email)
    cid = contact["id"]

    for path in (
        f"/crm/contacts/{cid}",
        f"/crm/contacts/{cid}/export",
        f"/crm/companies/{company['id']}",
        f"/crm/pipelines/{pipeline['id']}/board",
    ):
        assert (await console.get(path)).status_code == 404, path
    for path, data in (
        (f"/crm/contacts/{cid}/erase", {}),
        (f"/crm/contacts/{cid}/activities", {"kind": "call", "subject": "x"}),
        (f"/crm/contacts/{cid}/consents", {"channel": "sms", "purpose": "x", "source": "y"}),
        (f"/crm/deals/{deal['id']}/move", {"stage_id": stage, "version": "1"}),
    ):
        assert (await console.post(path, data)).status_code == 404, path
    held = await client.get(f"/api/v1/crm/deals/{deal['id']}", headers=other.headers)
    assert (held.json()["stage_id"], held.json()["version"]) == (deal["stage_id"], 1)
    kept = await client.get(f"{CONTACTS}/{cid}", headers=other.headers)
    assert kept.json()["email"] == "a@example.com"


# --- companies -----------------------------------------------------------------------------


async def test_companies_are_listed_and_shown_with_their_people(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    company = await add(client, tenant, COMPANIES, name="Acme Foods", industry="Food")
    await add(client, tenant, COMPANIES, name="Bright Ltd")
    await add(client, tenant, CONTACTS, first_name="Ada", company_id=company["id"])
    await console.sign_in(tenant.owner.email)

    listed = await console.get("/crm/companies")
    searched = await console.get("/crm/companies", params={"q": "acme"})
    shown = await console.get(f"/crm/companies/{company['id']}")

    assert sorted(names(listed.text, "company-name")) == ["Acme Foods", "Bright Ltd"]
    assert names(searched.text, "company-name") == ["Acme Foods"]
    assert names(shown.text, "company-title") == ["Acme Foods"]
    assert names(shown.text, "company-contact") == ["Ada"]


# --- the board -----------------------------------------------------------------------------


async def test_the_board_shows_deals_in_their_stages_and_moves_them(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    pipeline = await make_pipeline(client, tenant)
    stages = stage_ids(pipeline)
    deal = await make_deal(
        client, tenant.headers, 150000, title="Big order", pipeline_id=pipeline["id"]
    )
    await console.sign_in(tenant.owner.email)
    board = f"/crm/pipelines/{pipeline['id']}/board"

    listed = await console.get("/crm/pipelines")
    before = await console.get(board)
    moved = await console.post(
        f"/crm/deals/{deal['id']}/move", {"stage_id": stages["proposal"], "version": "1"}
    )
    stale = await console.post(
        f"/crm/deals/{deal['id']}/move", {"stage_id": stages["won"], "version": "1"}
    )
    unexplained = await console.post(
        f"/crm/deals/{deal['id']}/move", {"stage_id": stages["lost"], "version": "2"}
    )

    assert f'href="{board}"' in listed.text
    qualified = before.text.split('data-testid="stage-qualified"')[1].split("</section>")[0]
    assert names(qualified, "deal-title") == ["Big order"]
    assert '<script src="/crm/static/board.js" defer></script>' in before.text
    assert (moved.status_code, moved.headers["location"]) == (303, board)
    assert (stale.status_code, unexplained.status_code) == (303, 303)
    held = (await client.get(f"/api/v1/crm/deals/{deal['id']}", headers=tenant.headers)).json()
    assert (held["stage_id"], held["version"], held["status"]) == (stages["proposal"], 2, "open")
    after = await console.get(board)
    assert 'data-testid="flash"' in after.text


async def test_moving_needs_the_update_permission(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    pipeline = await make_pipeline(client, tenant)
    deal = await make_deal(client, tenant.headers, pipeline_id=pipeline["id"])
    member = await add_member(database, tenant, permissions=["crm.deal.read", "crm.record.all"])
    await console.sign_in(member.email)

    board = await console.get(f"/crm/pipelines/{pipeline['id']}/board")
    refused = await console.post(
        f"/crm/deals/{deal['id']}/move",
        {"stage_id": stage_ids(pipeline)["won"], "version": "1"},
    )

    assert board.status_code == 200
    assert 'data-testid="move-form"' not in board.text
    assert refused.status_code == 403
    held = (await client.get(f"/api/v1/crm/deals/{deal['id']}", headers=tenant.headers)).json()
    assert held["version"] == 1


# --- imports -------------------------------------------------------------------------------

IMPORT_CSV = "first_name,last_name,email\nAda,Obi,ada@example.com\nBayo,Ade,not-an-email\n"


async def upload(console: Console, text: str, *, only_valid: bool = False) -> httpx.Response:
    await console.get("/crm/imports/new")
    data = {"only_valid": "1"} if only_valid else {}
    files = {"file": ("people.csv", text.encode(), "text/csv")}
    return await console.post("/crm/imports/new", data, files=files)


async def test_an_invalid_file_shows_its_report_and_writes_nothing(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    await console.sign_in(tenant.owner.email)

    contacts_page = await console.get("/crm/contacts")
    sent = await upload(console, IMPORT_CSV)
    page = await console.get(sent.headers["location"])
    listed = await console.get("/crm/imports")

    assert 'data-testid="import-contacts"' in contacts_page.text
    assert sent.status_code == 303
    assert sent.headers["location"].startswith("/crm/imports/")
    assert page.status_code == 200
    assert 'data-status="invalid"' in page.text
    assert 'data-testid="import-only-valid-rows"' in page.text
    assert names(page.text, "problem-row") == ["3"]
    assert names(page.text, "problem-column") == ["email"]
    assert "hx-trigger" not in page.text
    assert names(listed.text, "import-link") == ["people.csv"]
    held = await client.get(CONTACTS, headers=tenant.headers)
    assert held.json()["items"] == []


async def test_only_the_valid_rows_are_imported_when_asked(
    console: Console, client: httpx.AsyncClient, database: Database, worker: Worker
) -> None:
    tenant = await crm_tenant(database)
    await console.sign_in(tenant.owner.email)

    form = await console.get("/crm/imports/new", params={"only_valid": "1"})
    sent = await upload(console, IMPORT_CSV, only_valid=True)
    page = await console.get(sent.headers["location"])

    assert 'data-testid="import-only-valid" checked' in form.text
    assert sent.status_code == 303
    assert 'data-status="validated"' in page.text
    assert 'hx-trigger="every 2s"' in page.text
    assert 'hx-select="#import-status"' in page.text
    imports = await client.get("/api/v1/crm/imports", headers=tenant.headers)
    assert [(i["status"], i["only_valid"]) for i in imports.json()["items"]] == [
        ("validated", True)
    ]
    await worker.run_until_idle()
    finished = await console.get(sent.headers["location"])
    contacts_page = await console.get("/crm/contacts")
    assert 'data-status="done"' in finished.text
    assert "hx-trigger" not in finished.text
    assert names(finished.text, "import-written") == ["1"]
    assert names(contacts_page.text, "contact-name") == ["Ada Obi"]


async def test_an_unreadable_upload_is_shown_on_the_form(
    console: Console, database: Database
) -> None:
    tenant = await crm_tenant(database)
    await console.sign_in(tenant.owner.email)

    sent = await upload(console, "first_name,shoe_size\nAda,42\n")

    assert sent.status_code == 422
    assert 'data-testid="form-error"' in sent.text
    assert 'data-testid="import-form"' in sent.text


# --- leads ---------------------------------------------------------------------------------

LEADS = "/api/v1/crm/leads"


async def test_leads_are_listed_searched_and_filtered(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    await add(client, tenant, LEADS, name="Chidi Okafor", status="qualified")
    await add(client, tenant, LEADS, name="Ngozi Eze")
    await console.sign_in(tenant.owner.email)

    everyone = await console.get("/crm/leads")
    found = await console.get("/crm/leads", params={"q": "chidi"})
    qualified = await console.get("/crm/leads", params={"status": "qualified"})
    nobody = await console.get("/crm/leads", params={"q": "zzz"})

    assert everyone.status_code == 200
    assert sorted(names(everyone.text, "lead-name")) == ["Chidi Okafor", "Ngozi Eze"]
    assert names(found.text, "lead-name") == ["Chidi Okafor"]
    assert names(qualified.text, "lead-name") == ["Chidi Okafor"]
    assert 'data-testid="empty-state"' in nobody.text


async def test_a_lead_is_converted_with_a_deal_and_links_to_its_contact(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    await make_pipeline(client, tenant)
    lead = await add(client, tenant, LEADS, name="Chidi Okafor", company_name="Okafor Foods")
    await console.sign_in(tenant.owner.email)
    path = f"/crm/leads/{lead['id']}"

    before = await console.get(path)
    bad = await console.post(f"{path}/convert", {"deal_title": "Catering", "deal_amount": "x"})
    done = await console.post(f"{path}/convert", {"deal_title": "Catering", "deal_amount": "500"})
    after = await console.get(path)

    assert 'data-testid="convert-form"' in before.text
    assert bad.status_code == 422
    assert 'data-testid="error-deal_amount"' in bad.text
    assert done.status_code == 303
    held = (await client.get(f"{LEADS}/{lead['id']}", headers=tenant.headers)).json()
    assert held["status"] == "converted"
    assert f'href="/crm/contacts/{held["converted_contact_id"]}"' in after.text
    assert 'data-testid="convert-form"' not in after.text
    deal = await client.get(
        f"/api/v1/crm/deals/{held['converted_deal_id']}", headers=tenant.headers
    )
    assert (deal.json()["title"], deal.json()["amount"]["amount_minor"]) == ("Catering", 50000)


async def test_imports_and_leads_need_their_permissions(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    lead = await add(client, tenant, LEADS, name="Chidi Okafor")
    made = await client.post(
        "/api/v1/crm/imports",
        content=IMPORT_CSV.encode(),
        headers={**tenant.headers, "Content-Type": "text/csv"},
    )
    member = await add_member(database, tenant, permissions=["crm.contact.read"])
    reader = await add_member(database, tenant, permissions=["crm.lead.read"])
    await console.sign_in(member.email)

    for path in (
        "/crm/imports",
        "/crm/imports/new",
        f"/crm/imports/{made.json()['id']}",
        "/crm/leads",
        f"/crm/leads/{lead['id']}",
    ):
        assert (await console.get(path)).status_code == 403, path
    contacts_page = await console.get("/crm/contacts")
    assert 'data-testid="import-contacts"' not in contacts_page.text
    await console.sign_in(reader.email)
    assert 'data-testid="convert-form"' not in (await console.get(f"/crm/leads/{lead['id']}")).text
    assert (await console.post(f"/crm/leads/{lead['id']}/convert")).status_code == 403
    held = await client.get(f"{LEADS}/{lead['id']}", headers=tenant.headers)
    assert held.json()["status"] == "new"


async def test_another_business_imports_and_leads_are_404(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    other = await crm_tenant(database)
    lead = await add(client, other, LEADS, name="Chidi Okafor")
    made = await client.post(
        "/api/v1/crm/imports",
        content=IMPORT_CSV.encode(),
        headers={**other.headers, "Content-Type": "text/csv"},
    )
    await console.sign_in(tenant.owner.email)

    for path in (f"/crm/imports/{made.json()['id']}", f"/crm/leads/{lead['id']}"):
        assert (await console.get(path)).status_code == 404, path
    converted = await console.post(f"/crm/leads/{lead['id']}/convert", {})
    assert converted.status_code == 404
    held = await client.get(f"{LEADS}/{lead['id']}", headers=other.headers)
    assert held.json()["status"] == "new"
