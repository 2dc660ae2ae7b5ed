"""The console's "Start a business" pages: a sentence drafted and reviewed, the short form, the
plan of a dry run, activation by an operator and by an open sign-up visitor, errors next to
their fields, and who may open the pages at all."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from nexus.app import create_app
from nexus.core.db import Database
from nexus.core.guard import across_tenants
from nexus.identity.models import Branch, Tenant
from tests.conftest import make_settings
from tests.console.browser_client import Console
from tests.console.test_operator_pages import make_operator
from tests.identity.factories import PASSWORD, make_tenant, unique
from tests.mailbox import Mailbox

SENTENCE = "I run a pharmacy with 3 branches in Abuja and take Paystack"


@pytest.fixture(scope="module")
def open_app(database_url: str, mailbox: Mailbox, database: Database):  # type: ignore[no-untyped-def]
    return create_app(make_settings(database_url, mailbox, open_signup=True), database)


@pytest.fixture
async def console(app) -> AsyncIterator[Console]:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=app, client=("203.0.113.21", 50001))
    async with httpx.AsyncClient(transport=transport, base_url="https://nexus.test") as http:
        yield Console(http)


@pytest.fixture
async def visitor(open_app) -> AsyncIterator[Console]:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=open_app, client=("198.51.100.77", 50003))
    async with httpx.AsyncClient(transport=transport, base_url="https://nexus.test") as http:
        yield Console(http)


def filled(name: str, email: str, **extra: Any) -> dict[str, Any]:
    """The review form of the sentence's draft, with what the draft left to the person."""
    values: dict[str, Any] = {
        "business.name": name,
        "business.industry": "pharmacy",
        "country": "NG",
        "city": "Abuja",
        "locations": "3",
        "owner.name": "Ada Obi",
        "owner.email": email,
        "integration": "paystack",
        "integrations.paystack.secret_key": "env:PAYSTACK_SECRET_KEY",
    }
    for index, street in enumerate(["5 Aminu Kano Crescent", "2 Ahmadu Bello Way", "9 Wuse Rd"]):
        values[f"locations.{index}.name"] = f"Abuja branch {index + 1}"
        values[f"locations.{index}.address.line1"] = street
    values.update(extra)
    return values


async def tenant_named(database: Database, name: str) -> Tenant | None:
    async with database.session(write=False) as session:
        return await session.scalar(select(Tenant).where(Tenant.name == name))


async def branch_count(database: Database, tenant: Tenant) -> int:
    async with database.session(write=False) as session:
        with across_tenants(session):
            count = await session.scalar(
                select(func.count()).select_from(Branch).where(Branch.tenant_id == tenant.id)
            )
    return int(count or 0)


async def test_an_operator_drafts_a_sentence_reviews_and_activates(
    console: Console, database: Database
) -> None:
    operator = await make_operator(database)
    await console.sign_in(operator.email)

    start = await console.get("/start")
    assert start.status_code == 200
    assert 'data-testid="draft-form"' in start.text and 'href="/start/form"' in start.text
    assert 'href="/start"' in start.text  # the operators' navigation entry

    draft = await console.post("/start/draft", {"prompt": SENTENCE})
    assert draft.status_code == 200, draft.text
    page = draft.text
    assert 'value="Abuja Pharmacy"' in page
    assert '<option value="pharmacy" selected>' in page
    assert 'name="locations" type="number"' in page and 'value="3"' in page
    for field in ("business.name", "owner.name", "owner.email", "locations.2.address.line1"):
        assert f'data-testid="undecided-{field}"' in page
    assert 'data-testid="undecided-country"' not in page
    assert 'data-testid="draft-notes"' in page and "from the word" in page
    assert 'data-testid="integration-paystack"' in page
    assert "env:PAYSTACK_SECRET_KEY" in page
    assert 'name="owner.password"' not in page  # an operator sets no password

    name = f"Abuja Pharmacy {unique('x')}"
    email = f"{unique('owner')}@example.com"
    response = await console.post("/start/activate", filled(name, email))

    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    assert 'data-testid="owner-api-key">nxk_' in response.text
    assert 'data-testid="setup-url">http://nexus.test/reset-password?token=' in response.text
    tenant = await tenant_named(database, name)
    assert tenant is not None and tenant.industry == "pharmacy" and tenant.currency == "NGN"
    assert f'href="/platform/tenants/{tenant.id}"' in response.text
    assert await branch_count(database, tenant) == 3
    landing = await console.get(f"/platform/tenants/{tenant.id}")
    assert landing.status_code == 200 and name in landing.text


async def test_the_short_form_and_a_dry_run_create_nothing(
    console: Console, database: Database
) -> None:
    operator = await make_operator(database)
    await console.sign_in(operator.email)
    empty = await console.get("/start/form")
    assert empty.status_code == 200
    assert 'data-testid="review-form"' in empty.text and 'data-testid="undecided-' not in empty.text

    name = f"Dry Run Pharmacy {unique('x')}"
    response = await console.post(
        "/start/review", filled(name, f"{unique('o')}@example.com", dry_run="1")
    )

    assert response.status_code == 200, response.text
    assert 'data-testid="plan"' in response.text
    assert 'data-testid="plan-currency">NGN<' in response.text
    assert 'data-testid="plan-locations">3<' in response.text
    assert 'data-testid="module-identity">active<' in response.text
    assert 'data-testid="plan-origins"' in response.text
    assert f'value="{name}"' in response.text  # the form stays filled for activation
    assert await tenant_named(database, name) is None


async def test_validation_errors_are_shown_next_to_their_fields_and_nothing_is_created(
    console: Console, database: Database
) -> None:
    operator = await make_operator(database)
    await console.sign_in(operator.email)
    name = f"Broken Pharmacy {unique('x')}"
    values = filled(name, "not-an-email", **{"locations.1.address.line1": "", "country": "ZZ"})

    response = await console.post("/start/activate", values)

    assert response.status_code == 422, response.text
    assert 'data-testid="form-error"' in response.text
    assert 'data-testid="error-owner.email"' in response.text
    assert 'data-testid="error-country"' in response.text
    assert 'data-testid="error-locations.1.address.line1"' in response.text
    assert 'data-testid="error-locations.0.address.line1"' not in response.text
    assert f'value="{name}"' in response.text
    assert await tenant_named(database, name) is None


async def test_an_open_sign_up_visitor_activates_with_a_password_and_lands_signed_in(
    visitor: Console, database: Database
) -> None:
    start = await visitor.get("/start")
    assert start.status_code == 200
    form = await visitor.get("/start/form")
    assert 'name="owner.password"' in form.text

    name = f"Visitor Pharmacy {unique('x')}"
    email = f"{unique('owner')}@example.com"
    response = await visitor.post(
        "/start/activate", filled(name, email, **{"owner.password": PASSWORD})
    )

    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/"
    tenant = await tenant_named(database, name)
    assert tenant is not None and await branch_count(database, tenant) == 3
    home = await visitor.get("/")
    assert home.status_code == 200
    assert name in home.text
    assert "your business is ready" in home.text
    me = await visitor.get("/profile")
    assert me.status_code == 200 and email in me.text


async def test_an_open_sign_up_visitor_without_a_password_gets_the_setup_link(
    visitor: Console, database: Database
) -> None:
    name = f"Linked Pharmacy {unique('x')}"
    response = await visitor.post("/start/activate", filled(name, f"{unique('o')}@example.com"))

    assert response.status_code == 200, response.text
    assert 'data-testid="setup-url">http://nexus.test/reset-password?token=' in response.text
    assert 'data-testid="open-sign-in"' in response.text
    assert await tenant_named(database, name) is not None


async def test_closed_sign_up_sends_visitors_to_sign_in_and_refuses_business_owners(
    console: Console, database: Database
) -> None:
    anonymous = await console.get("/start")
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/sign-in?next=%2Fstart"
    posted = await console.post("/start/activate", filled("Sneaky", "s@example.com"))
    assert posted.status_code == 303 and posted.headers["location"] == "/sign-in"

    business = await make_tenant(database)
    await console.sign_in(business.owner.email)
    refused = await console.get("/start")
    assert refused.status_code == 403
    assert "Sign-up is closed" in refused.text
    name = f"Owner Pharmacy {unique('x')}"
    attempt = await console.post("/start/activate", filled(name, f"{unique('o')}@example.com"))
    assert attempt.status_code == 403
    assert await tenant_named(database, name) is None
    home = await console.get("/")
    assert 'href="/start"' not in home.text  # no navigation entry for non-operators
