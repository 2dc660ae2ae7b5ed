"""The CRM's console forms: contacts, companies, deals, pipelines, leads and custom fields are
added, changed and deleted through the same services and schemas as the API."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from nexus.core.db import Database
from tests.console.browser_client import Console
from tests.crm.dealkit import crm_tenant, make_deal, make_pipeline, stage_ids
from tests.identity.factories import TenantFixture, add_member

CONTACTS = "/api/v1/crm/contacts"
COMPANIES = "/api/v1/crm/companies"
LEADS = "/api/v1/crm/leads"
FIELDS = "/api/v1/crm/fields"


@pytest.fixture
async def console(app) -> AsyncIterator[Console]:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=app, client=("203.0.113.21", 50021))
    async with httpx.AsyncClient(transport=transport, base_url="https://nexus.test") as http:
        yield Console(http)


async def add(
    client: httpx.AsyncClient, tenant: TenantFixture, path: str, **body: Any
) -> dict[str, Any]:
    response = await client.post(path, json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text
    found: dict[str, Any] = response.json()
    return found


async def held(client: httpx.AsyncClient, tenant: TenantFixture, path: str) -> dict[str, Any]:
    response = await client.get(path, headers=tenant.headers)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def texts(html: str, testid: str) -> list[str]:
    return re.findall(rf'data-testid="{testid}"[^>]*>([^<]+)<', html)


async def define_fields(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    """One contact field of each kind, and a sensitive one."""
    for key, kind, extra in (
        ("member_no", "text", {"required": True}),
        ("shoe_size", "number", {}),
        ("birthday", "date", {}),
        ("blood_group", "choice", {"choices": ["A", "B", "O"]}),
        ("newsletter", "boolean", {}),
        ("allergies", "text", {"sensitive": True}),
    ):
        label = key.replace("_", " ").capitalize()
        await add(
            client, tenant, FIELDS, entity="contact", key=key, label=label, kind=kind, **extra
        )


# --- contacts ------------------------------------------------------------------------------


async def test_a_contact_is_added_with_custom_fields_of_every_kind(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    await define_fields(client, tenant)
    company = await add(client, tenant, COMPANIES, name="Acme Foods")
    await console.sign_in(tenant.owner.email)

    listed = await console.get("/crm/contacts")
    form = await console.get("/crm/contacts/new")
    sent = await console.post(
        "/crm/contacts/new",
        {
            "first_name": "Ada",
            "last_name": "Obi",
            "email": "Ada@Example.com",
            "phone": "0803 123 4567",
            "company_id": company["id"],
            "tags": "vip, retail",
            "address.city": "Lagos",
            "address.country": "ng",
            "custom.member_no": "M-7",
            "custom.shoe_size": "41.5",
            "custom.birthday": "1990-04-01",
            "custom.blood_group": "O",
            "custom.newsletter": "1",
            "custom.allergies": "penicillin",
        },
    )

    assert 'href="/crm/contacts/new"' in listed.text
    assert 'href="/crm/settings/fields"' in listed.text
    assert form.status_code == 200
    for key, kind in (
        ("member_no", "text"),
        ("shoe_size", "number"),
        ("birthday", "date"),
        ("blood_group", "choice"),
        ("newsletter", "boolean"),
        ("allergies", "text"),
    ):
        assert f'data-testid="custom-field-{key}" data-kind="{kind}"' in form.text
    assert 'id="f-custom.birthday" name="custom.birthday" type="date"' in form.text
    assert '<option value="O" >O</option>' in form.text
    assert 'name="custom.newsletter" value="1"' in form.text
    assert "Member no *" in form.text
    assert f'<option value="{company["id"]}" >Acme Foods</option>' in form.text
    assert sent.status_code == 303
    contact_id = sent.headers["location"].rsplit("/", 1)[1]
    assert sent.headers["location"] == f"/crm/contacts/{contact_id}"
    made = await held(client, tenant, f"{CONTACTS}/{contact_id}")
    assert (made["first_name"], made["email"], made["phone"]) == (
        "Ada",
        "Ada@example.com",
        "+2348031234567",
    )
    assert made["company_id"] == company["id"]
    assert made["tags"] == ["vip", "retail"]
    assert made["address"] == {"city": "Lagos", "country": "NG"}
    assert made["custom"] == {
        "member_no": "M-7",
        "shoe_size": 41.5,
        "birthday": "1990-04-01",
        "blood_group": "O",
        "newsletter": True,
        "allergies": "penicillin",
    }
    page = await console.get(sent.headers["location"])
    assert 'data-testid="flash"' in page.text
    assert "M-7" in texts(page.text, "custom-value")


async def test_a_bad_contact_is_shown_again_with_each_field_message(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    await define_fields(client, tenant)
    await console.sign_in(tenant.owner.email)

    blank = await console.post("/crm/contacts/new", {"first_name": "", "last_name": "Obi"})
    bad_number = await console.post(
        "/crm/contacts/new",
        {"first_name": "Ada", "custom.member_no": "M-1", "custom.shoe_size": "big"},
    )
    bad_email = await console.post(
        "/crm/contacts/new", {"first_name": "Ada", "email": "nope", "custom.member_no": "M-1"}
    )
    missing = await console.post("/crm/contacts/new", {"first_name": "Ada"})
    not_a_choice = await console.post(
        "/crm/contacts/new",
        {"first_name": "Ada", "custom.member_no": "M-1", "custom.blood_group": "Z"},
    )

    assert blank.status_code == 422
    assert 'data-testid="error-first_name"' in blank.text
    assert 'value="Obi"' in blank.text  # what was typed stays
    assert bad_number.status_code == 422
    assert texts(bad_number.text, "error-custom.shoe_size") == ["Write a number, e.g. 42 or 3.5."]
    assert bad_email.status_code == 422
    assert 'data-testid="error-email"' in bad_email.text
    assert missing.status_code == 422
    assert texts(missing.text, "error-custom.member_no") == ["Member no is required"]
    assert not_a_choice.status_code == 422
    assert 'data-testid="error-custom.blood_group"' in not_a_choice.text
    assert (await held(client, tenant, CONTACTS))["items"] == []


async def test_a_duplicate_links_to_the_contact_that_exists(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    first = await add(client, tenant, CONTACTS, first_name="Ada", email="ada@example.com")
    other = await add(client, tenant, CONTACTS, first_name="Bayo", email="bayo@example.com")
    await console.sign_in(tenant.owner.email)

    added = await console.post("/crm/contacts/new", {"first_name": "A", "email": "ADA@example.com"})
    edited = await console.post(
        f"/crm/contacts/{other['id']}/edit",
        {"first_name": "Bayo", "email": "ada@example.com", "version": "1"},
    )

    for response in (added, edited):
        assert response.status_code == 409
        assert 'data-testid="duplicate"' in response.text
        assert f'href="/crm/contacts/{first["id"]}" data-testid="duplicate-link"' in response.text
    assert len((await held(client, tenant, CONTACTS))["items"]) == 2
    kept = await held(client, tenant, f"{CONTACTS}/{other['id']}")
    assert (kept["email"], kept["version"]) == ("bayo@example.com", 1)


async def test_a_contact_is_edited_with_its_version(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    await add(client, tenant, FIELDS, entity="contact", key="vip", label="VIP", kind="boolean")
    contact = await add(
        client,
        tenant,
        CONTACTS,
        first_name="Ada",
        email="ada@example.com",
        job_title="Buyer",
        tags=["old"],
        custom={"vip": True},
    )
    path = f"/crm/contacts/{contact['id']}"
    await console.sign_in(tenant.owner.email)

    page = await console.get(path)
    form = await console.get(f"{path}/edit")
    saved = await console.post(
        f"{path}/edit",
        {"first_name": "Adaeze", "last_name": "Obi", "email": "", "tags": "new", "version": "1"},
    )

    assert f'href="{path}/edit"' in page.text
    assert 'data-testid="delete-contact"' in page.text
    assert '<input type="hidden" name="version" value="1">' in form.text
    assert 'value="ada@example.com"' in form.text
    assert 'name="custom.vip" value="1" checked' in form.text
    assert (saved.status_code, saved.headers["location"]) == (303, path)
    changed = await held(client, tenant, f"{CONTACTS}/{contact['id']}")
    assert (changed["first_name"], changed["last_name"], changed["email"]) == (
        "Adaeze",
        "Obi",
        None,
    )
    assert (changed["job_title"], changed["tags"], changed["version"]) == (None, ["new"], 2)
    assert changed["custom"] == {"vip": False}  # an unticked box is false


async def test_a_stale_version_is_a_conflict_shown_on_the_form(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    contact = await add(client, tenant, CONTACTS, first_name="Ada")
    changed = await client.patch(
        f"{CONTACTS}/{contact['id']}",
        json={"job_title": "Chef", "version": 1},
        headers=tenant.headers,
    )
    assert changed.status_code == 200
    await console.sign_in(tenant.owner.email)

    stale = await console.post(
        f"/crm/contacts/{contact['id']}/edit", {"first_name": "Adaeze", "version": "1"}
    )

    assert stale.status_code == 412
    assert texts(stale.text, "form-error") == [
        "Someone changed this record after you opened it. Reload the page to see their "
        "changes, then make yours again."
    ]
    reload = f'<a href="/crm/contacts/{contact["id"]}/edit" role="button"'
    assert reload in stale.text.split('data-testid="conflict"')[1]
    fresh = await console.get(f"/crm/contacts/{contact['id']}/edit")
    assert '<input type="hidden" name="version" value="2">' in fresh.text
    kept = await held(client, tenant, f"{CONTACTS}/{contact['id']}")
    assert (kept["first_name"], kept["job_title"], kept["version"]) == ("Ada", "Chef", 2)


async def test_a_contact_is_deleted_after_confirming(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    contact = await add(client, tenant, CONTACTS, first_name="Ada")
    await console.sign_in(tenant.owner.email)

    page = await console.get(f"/crm/contacts/{contact['id']}")
    deleted = await console.post(f"/crm/contacts/{contact['id']}/delete")

    button = page.text.split('data-testid="delete-contact"')[0].rsplit("<button", 1)[1]
    assert "data-confirm=" in button
    assert (deleted.status_code, deleted.headers["location"]) == (303, "/crm/contacts")
    gone = await client.get(f"{CONTACTS}/{contact['id']}", headers=tenant.headers)
    assert gone.status_code == 404


async def test_sensitive_fields_are_write_only_for_a_role_that_may_not_see_them(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    await add(
        client,
        tenant,
        FIELDS,
        entity="contact",
        key="nin",
        label="NIN",
        kind="text",
        sensitive=True,
        required=True,
    )
    await add(
        client,
        tenant,
        FIELDS,
        entity="contact",
        key="consented",
        label="Consented",
        kind="boolean",
        sensitive=True,
    )
    await add(client, tenant, FIELDS, entity="contact", key="size", label="Size", kind="text")
    contact = await add(
        client, tenant, CONTACTS, first_name="Ada", custom={"nin": "12345678901", "size": "M"}
    )
    staff = await add_member(
        database,
        tenant,
        permissions=[
            "crm.contact.read",
            "crm.contact.create",
            "crm.contact.update",
            "crm.record.all",
        ],
    )
    await console.sign_in(staff.email)

    new = await console.get("/crm/contacts/new")
    edit = await console.get(f"/crm/contacts/{contact['id']}/edit")
    saved = await console.post(
        f"/crm/contacts/{contact['id']}/edit",
        {"first_name": "Ada", "custom.size": "L", "custom.nin": "", "version": "1"},
    )
    missing = await console.post("/crm/contacts/new", {"first_name": "Bola"})
    added = await console.post(
        "/crm/contacts/new",
        {"first_name": "Chi", "custom.nin": "98765432109", "custom.consented": "true"},
    )

    for page in (new, edit):
        assert page.status_code == 200
        assert 'data-testid="custom-field-size"' in page.text
        assert 'data-testid="custom-field-nin" data-kind="text" data-write-only="true"' in page.text
        assert "12345678901" not in page.text
    assert saved.status_code == 303
    kept = await held(client, tenant, f"{CONTACTS}/{contact['id']}")
    assert kept["custom"] == {"nin": "12345678901", "size": "L"}
    assert missing.status_code == 422
    assert 'data-testid="error-custom.nin"' in missing.text
    assert added.status_code == 303
    made_id = added.headers["location"].rstrip("/").rsplit("/", 1)[1]
    made = await held(client, tenant, f"{CONTACTS}/{made_id}")
    assert made["custom"] == {"nin": "98765432109", "consented": True}
    await console.sign_in(tenant.owner.email)
    shown = await console.get(f"/crm/contacts/{contact['id']}/edit")
    assert 'data-testid="custom-field-nin" data-kind="text">' in shown.text
    assert 'value="12345678901"' in shown.text


async def test_the_owner_is_chosen_only_by_those_who_see_every_record(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    staff = await add_member(database, tenant, permissions=["crm.contact.create"])
    await console.sign_in(tenant.owner.email)

    chooser = await console.get("/crm/contacts/new")
    given = await console.post(
        "/crm/contacts/new", {"first_name": "Ada", "owner_id": str(staff.user_id)}
    )
    await console.sign_in(staff.email)
    plain = await console.get("/crm/contacts/new")

    assert 'name="owner_id"' in chooser.text
    assert f'<option value="{staff.user_id}"' in chooser.text
    assert given.status_code == 303
    contact_id = given.headers["location"].rsplit("/", 1)[1]
    assert (await held(client, tenant, f"{CONTACTS}/{contact_id}"))["owner_id"] == str(
        staff.user_id
    )
    assert 'name="owner_id"' not in plain.text
    assert 'name="company_id"' not in plain.text  # no crm.company.read


async def test_the_forms_need_their_permissions(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    contact = await add(client, tenant, CONTACTS, first_name="Ada")
    company = await add(client, tenant, COMPANIES, name="Acme")
    lead = await add(client, tenant, LEADS, name="Chidi")
    pipeline = await make_pipeline(client, tenant)
    deal = await make_deal(client, tenant.headers, pipeline_id=pipeline["id"])
    field = await add(client, tenant, FIELDS, entity="contact", key="x", label="X", kind="text")
    reader = await add_member(
        database,
        tenant,
        permissions=[
            "crm.contact.read",
            "crm.company.read",
            "crm.deal.read",
            "crm.lead.read",
            "crm.record.all",
        ],
    )
    await console.sign_in(reader.email)

    for path in (
        "/crm/contacts/new",
        f"/crm/contacts/{contact['id']}/edit",
        "/crm/companies/new",
        f"/crm/companies/{company['id']}/edit",
        "/crm/deals/new",
        f"/crm/deals/{deal['id']}/edit",
        "/crm/pipelines/new",
        f"/crm/pipelines/{pipeline['id']}/edit",
        "/crm/leads/new",
        f"/crm/leads/{lead['id']}/edit",
        f"/crm/settings/fields/{field['id']}/edit",
    ):
        assert (await console.get(path)).status_code == 403, path
        assert (await console.post(path, {"first_name": "Z", "name": "Z"})).status_code == 403
    for path in (
        f"/crm/contacts/{contact['id']}/delete",
        f"/crm/companies/{company['id']}/delete",
        f"/crm/deals/{deal['id']}/delete",
        f"/crm/pipelines/{pipeline['id']}/delete",
        f"/crm/settings/fields/{field['id']}/delete",
        "/crm/settings/fields",
    ):
        assert (await console.post(path, {"key": "y", "label": "Y"})).status_code == 403, path
    contact_page = await console.get(f"/crm/contacts/{contact['id']}")
    contacts_page = await console.get("/crm/contacts")
    settings = await console.get("/crm/settings/fields")
    deal_page = await console.get(f"/crm/deals/{deal['id']}")
    assert "edit-contact" not in contact_page.text
    assert "delete-contact" not in contact_page.text
    assert "new-contact" not in contacts_page.text
    assert settings.status_code == 200
    assert texts(settings.text, "field-label") == ["X"]
    assert 'data-testid="field-form"' not in settings.text
    assert "edit-deal" not in deal_page.text
    assert (await held(client, tenant, f"{CONTACTS}/{contact['id']}"))["version"] == 1
    assert len((await held(client, tenant, FIELDS))["items"]) == 1
    assert (await held(client, tenant, f"/api/v1/crm/deals/{deal['id']}"))["version"] == 1


async def test_another_business_records_are_404_on_every_form(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    other = await crm_tenant(database)
    contact = await add(client, other, CONTACTS, first_name="Ada")
    company = await add(client, other, COMPANIES, name="Acme")
    lead = await add(client, other, LEADS, name="Chidi")
    pipeline = await make_pipeline(client, other)
    deal = await make_deal(client, other.headers, pipeline_id=pipeline["id"])
    field = await add(client, other, FIELDS, entity="contact", key="x", label="X", kind="text")
    await console.sign_in(tenant.owner.email)

    for path in (
        f"/crm/contacts/{contact['id']}/edit",
        f"/crm/companies/{company['id']}/edit",
        f"/crm/deals/{deal['id']}",
        f"/crm/deals/{deal['id']}/edit",
        f"/crm/pipelines/{pipeline['id']}/edit",
        f"/crm/leads/{lead['id']}/edit",
        f"/crm/settings/fields/{field['id']}/edit",
    ):
        assert (await console.get(path)).status_code == 404, path
    for path in (
        f"/crm/contacts/{contact['id']}/edit",
        f"/crm/contacts/{contact['id']}/delete",
        f"/crm/companies/{company['id']}/edit",
        f"/crm/companies/{company['id']}/delete",
        f"/crm/deals/{deal['id']}/edit",
        f"/crm/deals/{deal['id']}/delete",
        f"/crm/pipelines/{pipeline['id']}/edit",
        f"/crm/pipelines/{pipeline['id']}/delete",
        f"/crm/leads/{lead['id']}/edit",
        f"/crm/settings/fields/{field['id']}/edit",
        f"/crm/settings/fields/{field['id']}/delete",
    ):
        data = {"first_name": "Z", "name": "Z", "title": "Z", "label": "Z", "version": "1"}
        assert (await console.post(path, data)).status_code == 404, path
    new_deal = await console.post("/crm/deals/new", {"title": "Z", "pipeline_id": pipeline["id"]})
    assert new_deal.status_code == 404
    assert (await held(client, other, f"{CONTACTS}/{contact['id']}"))["first_name"] == "Ada"
    assert (await held(client, other, f"{COMPANIES}/{company['id']}"))["name"] == "Acme"
    assert (await held(client, other, f"{LEADS}/{lead['id']}"))["name"] == "Chidi"
    assert (await held(client, other, f"/api/v1/crm/deals/{deal['id']}"))["version"] == 1
    assert (await held(client, other, f"{FIELDS}/{field['id']}"))["label"] == "X"


# --- companies -----------------------------------------------------------------------------


async def test_a_company_is_added_edited_and_deleted(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    await add(client, tenant, COMPANIES, name="Taken Ltd", email="hello@taken.ng")
    await add(client, tenant, FIELDS, entity="company", key="staff", label="Staff", kind="number")
    await console.sign_in(tenant.owner.email)

    listed = await console.get("/crm/companies")
    duplicate = await console.post(
        "/crm/companies/new", {"name": "Copy", "email": "HELLO@taken.ng"}
    )
    added = await console.post(
        "/crm/companies/new",
        {"name": "Acme Foods", "industry": "Food", "custom.staff": "12", "tags": "b2b"},
    )
    path = added.headers["location"]
    company_id = path.rsplit("/", 1)[1]
    page = await console.get(path)
    edited = await console.post(
        f"{path}/edit", {"name": "Acme Foods Ltd", "custom.staff": "", "version": "1"}
    )
    deleted = await console.post(f"{path}/delete")

    assert 'href="/crm/companies/new"' in listed.text
    assert duplicate.status_code == 409
    assert 'data-testid="duplicate-link"' in duplicate.text
    assert added.status_code == 303
    assert f'href="{path}/edit"' in page.text
    assert 'data-testid="delete-company"' in page.text
    assert edited.status_code == 303
    assert (deleted.status_code, deleted.headers["location"]) == (303, "/crm/companies")
    gone = await client.get(f"{COMPANIES}/{company_id}", headers=tenant.headers)
    assert gone.status_code == 404


async def test_a_company_edit_keeps_what_the_form_does_not_show(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    company = await add(client, tenant, COMPANIES, name="Acme", tags=["b2b"], custom={})
    await console.sign_in(tenant.owner.email)

    form = await console.get(f"/crm/companies/{company['id']}/edit")
    saved = await console.post(
        f"/crm/companies/{company['id']}/edit",
        {"name": "Acme", "industry": "Retail", "tags": "b2b, vip", "version": "1"},
    )

    assert 'value="b2b"' in form.text
    assert saved.status_code == 303
    changed = await held(client, tenant, f"{COMPANIES}/{company['id']}")
    assert (changed["industry"], changed["tags"], changed["version"]) == (
        "Retail",
        ["b2b", "vip"],
        2,
    )


# --- deals ---------------------------------------------------------------------------------


async def test_a_deal_is_added_from_the_board_and_edited_on_its_page(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    pipeline = await make_pipeline(client, tenant)
    stages = stage_ids(pipeline)
    contact = await add(client, tenant, CONTACTS, first_name="Ada", last_name="Obi")
    await console.sign_in(tenant.owner.email)
    board = f"/crm/pipelines/{pipeline['id']}/board"

    board_page = await console.get(board)
    form = await console.get("/crm/deals/new", params={"pipeline_id": pipeline["id"]})
    bad = await console.post(
        "/crm/deals/new",
        {"title": "Uniforms", "pipeline_id": pipeline["id"], "amount": "lots"},
    )
    added = await console.post(
        "/crm/deals/new",
        {
            "title": "Uniforms",
            "pipeline_id": pipeline["id"],
            "stage_id": stages["proposal"],
            "amount": "1,500.50",
            "currency": "NGN",
            "expected_close": "2026-12-15",
            "contact_id": contact["id"],
            "company_id": "",
        },
    )
    path = added.headers["location"]
    deal_id = path.rsplit("/", 1)[1]
    page = await console.get(path)
    unexplained = await console.post(
        f"{path}/edit",
        {"title": "Uniforms", "stage_id": stages["lost"], "amount": "1500.50", "version": "1"},
    )
    lost = await console.post(
        f"{path}/edit",
        {
            "title": "Uniforms",
            "stage_id": stages["lost"],
            "amount": "1500.50",
            "lost_reason": "Too dear",
            "expected_close": "2026-12-15",
            "contact_id": contact["id"],
            "version": "1",
        },
    )
    after = await console.get(path)
    board_after = await console.get(board)

    assert f'href="/crm/deals/new?pipeline_id={pipeline["id"]}"' in board_page.text
    assert form.status_code == 200
    assert f'<option value="{contact["id"]}" >Ada Obi</option>' in form.text
    assert bad.status_code == 422
    assert 'data-testid="error-amount"' in bad.text
    assert (added.status_code, path) == (303, f"/crm/deals/{deal_id}")
    assert texts(page.text, "deal-title") == ["Uniforms"]
    assert texts(page.text, "deal-stage") == ["Proposal"]
    assert f'href="/crm/contacts/{contact["id"]}"' in page.text
    assert unexplained.status_code == 422
    assert 'data-testid="error-lost_reason"' in unexplained.text
    assert lost.status_code == 303
    assert texts(after.text, "deal-status") == ["Lost"]
    assert texts(after.text, "deal-lost-reason") == ["Too dear"]
    assert f'href="/crm/deals/{deal_id}"' in board_after.text
    deal = await held(client, tenant, f"/api/v1/crm/deals/{deal_id}")
    assert deal["amount"] == {"amount_minor": 150050, "currency": "NGN"}
    assert (deal["status"], deal["lost_reason"], deal["version"]) == ("lost", "Too dear", 2)
    assert (deal["expected_close"], deal["contact_id"]) == ("2026-12-15", contact["id"])


async def test_a_deal_page_shows_its_activities_and_deletes_it(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    pipeline = await make_pipeline(client, tenant)
    deal = await make_deal(client, tenant.headers, pipeline_id=pipeline["id"], title="Order")
    await add(
        client,
        tenant,
        "/api/v1/crm/activities",
        kind="call",
        subject="Quote call",
        deal_id=deal["id"],
    )
    await console.sign_in(tenant.owner.email)

    page = await console.get(f"/crm/deals/{deal['id']}")
    stale = await console.post(
        f"/crm/deals/{deal['id']}/edit", {"title": "Order 2", "amount": "0", "version": "7"}
    )
    deleted = await console.post(f"/crm/deals/{deal['id']}/delete")

    assert texts(page.text, "deal-activity") == ["Quote call"]
    assert 'data-testid="delete-deal"' in page.text
    assert stale.status_code == 412
    assert 'data-testid="form-error"' in stale.text
    assert deleted.status_code == 303
    assert deleted.headers["location"] == f"/crm/pipelines/{pipeline['id']}/board"
    gone = await client.get(f"/api/v1/crm/deals/{deal['id']}", headers=tenant.headers)
    assert gone.status_code == 404


# --- pipelines -----------------------------------------------------------------------------


def stage_form(stages: list[dict[str, Any]], **extra: str) -> dict[str, str]:
    data = {"stage_count": str(len(stages)), **extra}
    for index, stage in enumerate(stages):
        for key, value in stage.items():
            data[f"stages.{index}.{key}"] = str(value)
    return data


async def test_a_pipeline_is_created_and_its_stages_renamed_reordered_and_removed(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    await console.sign_in(tenant.owner.email)

    form = await console.get("/crm/pipelines/new")
    missing_lost = await console.post(
        "/crm/pipelines/new",
        stage_form([{"name": "Open", "kind": "open"}, {"name": "Won", "kind": "won"}], name="X"),
    )
    created = await console.post(
        "/crm/pipelines/new",
        stage_form(
            [
                {"name": "Qualified", "probability": "20", "kind": "open"},
                {"name": "Proposal", "probability": "60", "kind": "open"},
                {"name": "Won", "kind": "won"},
                {"name": "Lost", "kind": "lost"},
                {"name": "", "probability": "", "kind": "open"},
            ],
            name="Wholesale",
        ),
    )
    path = created.headers["location"]
    pipeline_id = path.split("/")[3]
    made = await held(client, tenant, f"/api/v1/crm/pipelines/{pipeline_id}")
    rows = [
        {"id": s["id"], "name": s["name"], "probability": s["probability"], "kind": s["kind"]}
        for s in made["stages"]
    ]
    edit = await console.get(path)
    moved = await console.post(path, stage_form(rows, name="Wholesale", version="1", action="up:1"))
    after_move = await held(client, tenant, f"/api/v1/crm/pipelines/{pipeline_id}")
    rows = [
        {"id": s["id"], "name": s["name"], "probability": s["probability"], "kind": s["kind"]}
        for s in after_move["stages"]
    ] + [{"name": "Negotiation", "probability": "80", "kind": "open"}]
    rows[0]["name"] = "Pitch"
    renamed = await console.post(path, stage_form(rows, name="Trade", version="2"))
    after_rename = await held(client, tenant, f"/api/v1/crm/pipelines/{pipeline_id}")
    rows = [
        {"id": s["id"], "name": s["name"], "probability": s["probability"], "kind": s["kind"]}
        for s in after_rename["stages"]
    ]
    removed = await console.post(
        path, stage_form(rows, name="Trade", version="3", action="remove:1")
    )

    assert form.status_code == 200
    assert 'value="Qualified"' in form.text
    assert missing_lost.status_code == 422
    assert 'data-testid="error-stages"' in missing_lost.text
    assert created.status_code == 303
    assert path == f"/crm/pipelines/{pipeline_id}/edit"
    assert [s["name"] for s in made["stages"]] == ["Qualified", "Proposal", "Won", "Lost"]
    assert [s["probability"] for s in made["stages"]] == [20, 60, 100, 0]
    assert edit.status_code == 200
    assert 'value="up:1"' in edit.text
    assert 'data-testid="stage-remove"' in edit.text
    assert moved.status_code == 303
    assert [s["name"] for s in after_move["stages"]] == ["Proposal", "Qualified", "Won", "Lost"]
    assert renamed.status_code == 303
    assert after_rename["name"] == "Trade"
    assert [s["name"] for s in after_rename["stages"]] == [
        "Pitch",
        "Qualified",
        "Won",
        "Lost",
        "Negotiation",
    ]
    assert removed.status_code == 303
    final = await held(client, tenant, f"/api/v1/crm/pipelines/{pipeline_id}")
    assert [s["name"] for s in final["stages"]] == ["Pitch", "Won", "Lost", "Negotiation"]


async def test_a_stage_holding_deals_is_kept_and_a_used_pipeline_not_deleted(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    pipeline = await make_pipeline(client, tenant)
    await make_deal(client, tenant.headers, pipeline_id=pipeline["id"])
    rows = [
        {"id": s["id"], "name": s["name"], "probability": s["probability"], "kind": s["kind"]}
        for s in pipeline["stages"]
    ]
    path = f"/crm/pipelines/{pipeline['id']}/edit"
    await console.sign_in(tenant.owner.email)

    refused = await console.post(
        path, stage_form(rows, name="Sales", version="1", action="remove:0")
    )
    deleted = await console.post(f"/crm/pipelines/{pipeline['id']}/delete")
    page = await console.get(path)

    assert refused.status_code == 409
    assert 'data-testid="form-error"' in refused.text
    assert (deleted.status_code, deleted.headers["location"]) == (303, path)
    assert 'data-testid="flash"' in page.text
    kept = await held(client, tenant, f"/api/v1/crm/pipelines/{pipeline['id']}")
    assert [s["id"] for s in kept["stages"]] == [row["id"] for row in rows]


# --- leads ---------------------------------------------------------------------------------


async def test_a_lead_is_added_and_edited(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    await add(client, tenant, FIELDS, entity="lead", key="budget", label="Budget", kind="number")
    await console.sign_in(tenant.owner.email)

    listed = await console.get("/crm/leads")
    bad = await console.post("/crm/leads/new", {"name": "", "status": "new"})
    added = await console.post(
        "/crm/leads/new",
        {
            "name": "Chidi Okafor",
            "email": "chidi@okafor.ng",
            "company_name": "Okafor Foods",
            "status": "contacted",
            "custom.budget": "5000",
        },
    )
    path = added.headers["location"]
    lead_id = path.rsplit("/", 1)[1]
    page = await console.get(path)
    form = await console.get(f"{path}/edit")
    edited = await console.post(
        f"{path}/edit",
        {"name": "Chidi O.", "status": "qualified", "notes": "Call back", "version": "1"},
    )

    assert 'href="/crm/leads/new"' in listed.text
    assert bad.status_code == 422
    assert 'data-testid="error-name"' in bad.text
    assert added.status_code == 303
    assert f'href="{path}/edit"' in page.text
    assert 'value="chidi@okafor.ng"' in form.text
    assert 'value="5000"' in form.text
    assert edited.status_code == 303
    lead = await held(client, tenant, f"{LEADS}/{lead_id}")
    assert (lead["name"], lead["status"], lead["notes"], lead["email"]) == (
        "Chidi O.",
        "qualified",
        "Call back",
        None,
    )
    assert (lead["custom"], lead["version"]) == ({}, 2)


# --- custom field settings -----------------------------------------------------------------


async def test_custom_fields_are_added_changed_and_deleted(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    await console.sign_in(tenant.owner.email)

    empty = await console.get("/crm/settings/fields")
    added = await console.post(
        "/crm/settings/fields",
        {
            "entity": "contact",
            "key": "blood_group",
            "label": "Blood group",
            "kind": "choice",
            "choices": "A, B, O",
            "required": "1",
        },
    )
    taken = await console.post(
        "/crm/settings/fields",
        {"entity": "contact", "key": "blood_group", "label": "Again", "kind": "text"},
    )
    no_choices = await console.post(
        "/crm/settings/fields",
        {"entity": "deal", "key": "tier", "label": "Tier", "kind": "choice"},
    )
    sensitive = await console.post(
        "/crm/settings/fields",
        {"entity": "contact", "key": "nin", "label": "NIN", "kind": "text", "sensitive": "1"},
    )
    listed = await console.get("/crm/settings/fields")
    found = (await held(client, tenant, FIELDS))["items"]
    field_id = next(f["id"] for f in found if f["key"] == "blood_group")
    form = await console.get(f"/crm/settings/fields/{field_id}/edit")
    edited = await console.post(
        f"/crm/settings/fields/{field_id}/edit",
        {"label": "Blood type", "choices": "A, B, AB, O", "version": "1"},
    )
    stale = await console.post(
        f"/crm/settings/fields/{field_id}/edit", {"label": "Late", "version": "1"}
    )
    deleted = await console.post(f"/crm/settings/fields/{field_id}/delete")

    assert empty.status_code == 200
    assert 'data-testid="field-form"' in empty.text
    assert (added.status_code, added.headers["location"]) == (303, "/crm/settings/fields")
    assert taken.status_code == 409
    assert 'data-testid="error-key"' in taken.text
    assert no_choices.status_code == 422
    assert 'data-testid="error-choices"' in no_choices.text
    assert sensitive.status_code == 303
    contact_section = listed.text.split('data-testid="fields-contact"')[1].split("</section>")[0]
    assert texts(contact_section, "field-label") == ["Blood group", "NIN"]
    assert texts(contact_section, "field-sensitive") == ["sensitive"]
    assert texts(contact_section, "field-required") == ["required"]
    assert 'value="A, B, O"' in form.text
    assert edited.status_code == 303
    assert stale.status_code == 412
    assert deleted.status_code == 303
    left = (await held(client, tenant, FIELDS))["items"]
    assert [(f["key"], f["sensitive"]) for f in left] == [("nin", True)]


async def test_editing_a_record_of_a_former_member_keeps_its_owner(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    staff = await add_member(database, tenant, permissions=["crm.contact.create"])
    contact = await add(client, tenant, CONTACTS, first_name="Ada", owner_id=str(staff.user_id))
    left = await client.post(
        f"/api/v1/identity/users/{staff.user_id}/deactivate", headers=tenant.headers
    )
    assert left.status_code in (200, 204), left.text
    await console.sign_in(tenant.owner.email)

    form = await console.get(f"/crm/contacts/{contact['id']}/edit")
    saved = await console.post(
        f"/crm/contacts/{contact['id']}/edit",
        {"first_name": "Adaeze", "owner_id": "", "version": "1"},
    )

    owner_select = form.text.split('name="owner_id"')[1].split("</select>")[0]
    assert owner_select.split("<option")[1].startswith(' value="" >Keep the current owner<')
    assert " selected" not in owner_select  # the first option, "keep", is the one chosen
    assert saved.status_code == 303
    kept = await held(client, tenant, f"{CONTACTS}/{contact['id']}")
    assert (kept["first_name"], kept["owner_id"]) == ("Adaeze", str(staff.user_id))


async def test_a_deal_moves_to_another_pipeline_by_choosing_one_of_its_stages(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    sales = await make_pipeline(client, tenant)
    wholesale = await make_pipeline(client, tenant, name="Wholesale")
    deal = await make_deal(
        client,
        tenant.headers,
        5000,
        pipeline_id=sales["id"],
        stage_id=stage_ids(sales)["qualified"],
    )
    await console.sign_in(tenant.owner.email)
    path = f"/crm/deals/{deal['id']}"
    target = stage_ids(wholesale)["proposal"]

    form = await console.get(f"{path}/edit")
    moved = await console.post(
        f"{path}/edit",
        {"title": deal["title"], "stage_id": target, "amount": "50", "version": "1"},
    )
    after = await held(client, tenant, f"/api/v1/crm/deals/{deal['id']}")
    stayed = await console.post(
        f"{path}/edit",
        {"title": "Renamed", "stage_id": target, "amount": "50", "version": "2"},
    )
    renamed = await held(client, tenant, f"/api/v1/crm/deals/{deal['id']}")

    assert f'<option value="{target}" >Wholesale: Proposal</option>' in form.text
    assert texts(form.text, "stage-move-hint") != []
    assert moved.status_code == 303, moved.text
    assert (after["pipeline_id"], after["stage_id"]) == (wholesale["id"], target)
    assert stayed.status_code == 303
    assert (renamed["pipeline_id"], renamed["title"]) == (wholesale["id"], "Renamed")


async def test_a_write_only_sensitive_value_can_be_cleared_without_being_seen(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    field = {"entity": "contact", "kind": "text", "sensitive": True}
    await add(client, tenant, FIELDS, key="nin", label="NIN", required=True, **field)
    await add(client, tenant, FIELDS, key="allergy", label="Allergy", **field)
    contact = await add(
        client, tenant, CONTACTS, first_name="Ada", custom={"nin": "1234", "allergy": "Nuts"}
    )
    staff = await add_member(
        database, tenant, permissions=["crm.contact.read", "crm.contact.update", "crm.record.all"]
    )
    await console.sign_in(staff.email)
    path = f"/crm/contacts/{contact['id']}/edit"

    edit = await console.get(path)
    kept = await console.post(path, {"first_name": "Ada", "custom.allergy": "", "version": "1"})
    after_kept = await held(client, tenant, f"{CONTACTS}/{contact['id']}")
    cleared = await console.post(
        path,
        {"first_name": "Ada", "custom.allergy": "", "clear.custom.allergy": "1", "version": "1"},
    )
    after_cleared = await held(client, tenant, f"{CONTACTS}/{contact['id']}")

    assert 'data-testid="clear-allergy"' in edit.text
    assert 'data-testid="clear-nin"' not in edit.text  # a required value cannot be cleared
    assert "Nuts" not in edit.text
    assert kept.status_code == 303  # no change: the version stays 1
    assert after_kept["custom"] == {"nin": "1234", "allergy": "Nuts"}
    assert cleared.status_code == 303
    assert after_cleared["custom"] == {"nin": "1234"}
    assert after_cleared["version"] == 2
