"""The platform operators' pages: the businesses list, one business, suspend and reactivate."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import select

from nexus.console.pages import operator as operator_pages
from nexus.core.audit import AuditEvent
from nexus.core.context import RequestContext
from nexus.core.db import Database
from nexus.identity.service import operators, tenants, users
from tests.console.browser_client import Console
from tests.identity.factories import PASSWORD, TenantFixture, add_member, make_tenant, unique

TENANTS = "/platform/tenants"


@dataclass(frozen=True)
class OperatorUser:
    user_id: uuid.UUID
    email: str


async def make_operator(database: Database) -> OperatorUser:
    """An operator with a password who belongs to no business."""
    email = f"{unique('operator')}@example.com"
    async with database.transaction() as session:
        user = await users.create_user(
            session, email=email, name="Olu Operator", password=PASSWORD, platform_role="operator"
        )
    return OperatorUser(user.id, email)


async def make_named_tenants(database: Database, marker: str, count: int) -> list[uuid.UUID]:
    """`count` businesses named `<marker> <n>`, oldest first."""
    made = []
    for number in range(count):
        async with database.transaction() as session:
            owner = await users.create_user(session, email=f"{unique('o')}@example.com")
            created = await tenants.create_tenant(
                session,
                RequestContext.system(),
                name=f"{marker} {number}",
                slug=unique("shop"),
                country="NG",
                currency="NGN",
                timezone="Africa/Lagos",
                owner=owner,
            )
        made.append(created.tenant.id)
    return made


async def status_of(database: Database, tenant_id: uuid.UUID) -> str:
    async with database.transaction() as session:
        return (await operators.describe_tenant(session, tenant_id)).status


async def signed_in_operator(console: Console, database: Database) -> OperatorUser:
    operator = await make_operator(database)
    response = await console.sign_in(operator.email)
    assert response.status_code == 303
    return operator


def tenant_ids_listed(html: str) -> list[str]:
    return re.findall(r'href="/platform/tenants/([0-9a-f-]{36})"', html)


async def test_an_operator_outside_any_business_lands_on_the_businesses_list(
    console: Console, database: Database
) -> None:
    await signed_in_operator(console, database)

    home = await console.get("/")
    listing = await console.get(TENANTS)

    assert home.status_code == 303
    assert home.headers["location"] == TENANTS
    assert listing.status_code == 200
    assert 'data-testid="tenant-filter"' in listing.text
    assert f'href="{TENANTS}" aria-current="page"' in listing.text  # the platform nav entry


async def test_the_list_finds_a_business_by_slug_with_its_member_count(
    console: Console, database: Database
) -> None:
    tenant = await make_tenant(database)
    await add_member(database, tenant)
    await signed_in_operator(console, database)

    response = await console.get(TENANTS, params={"q": tenant.slug.upper()})

    assert response.status_code == 200
    assert tenant_ids_listed(response.text) == [str(tenant.tenant_id)]
    row = response.text.split(f'data-testid="tenant-{tenant.slug}"')[1].split("</tr>")[0]
    assert f'data-testid="status-{tenant.slug}">Active<' in row
    assert '<td data-label="Members">2</td>' in row


async def test_the_list_filters_by_status_and_pages_newest_first(
    console: Console, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(operator_pages, "PAGE_SIZE", 2)
    marker = unique("Mango")
    oldest, middle, newest = await make_named_tenants(database, marker, 3)
    operator = await signed_in_operator(console, database)
    async with database.transaction() as session:
        ctx = RequestContext(
            tenant_id=None,
            actor_type="user",
            actor_id=operator.user_id,
            user_id=operator.user_id,
            platform_role="operator",
        )
        await operators.suspend_tenant(session, ctx, middle, reason="test")

    first = await console.get(TENANTS, params={"q": marker})
    cursor = re.search(r'cursor=([^"&]+)" role="button"', first.text)
    assert cursor is not None
    second = await console.get(f"{TENANTS}?q={marker}&cursor={cursor.group(1)}")
    suspended = await console.get(TENANTS, params={"q": marker, "status": "suspended"})
    active = await console.get(TENANTS, params={"q": marker, "status": "active"})

    assert tenant_ids_listed(first.text) == [str(newest), str(middle)]
    assert tenant_ids_listed(second.text) == [str(oldest)]
    assert 'data-testid="next-page"' not in second.text
    assert tenant_ids_listed(suspended.text) == [str(middle)]
    assert tenant_ids_listed(active.text) == [str(newest), str(oldest)]
    assert '<option value="active" selected>' in active.text


async def test_a_search_that_finds_nothing_shows_the_empty_state(
    console: Console, database: Database
) -> None:
    await signed_in_operator(console, database)

    response = await console.get(TENANTS, params={"q": unique("nothing-like-this")})

    assert response.status_code == 200
    assert 'data-testid="empty-state"' in response.text
    assert "No business matches" in response.text
    assert 'data-testid="tenants"' not in response.text


async def test_an_htmx_search_answers_the_page_with_its_results(
    console: Console, database: Database
) -> None:
    tenant = await make_tenant(database)
    await signed_in_operator(console, database)

    response = await console.get(TENANTS, params={"q": tenant.slug}, headers={"HX-Request": "true"})

    assert response.status_code == 200
    assert '<div id="results">' in response.text
    assert tenant_ids_listed(response.text) == [str(tenant.tenant_id)]


async def test_an_overlong_search_is_refused_with_a_page(
    console: Console, database: Database
) -> None:
    await signed_in_operator(console, database)

    response = await console.get(TENANTS, params={"q": "x" * 201})

    assert response.status_code == 422
    assert 'data-testid="error-page"' in response.text


async def test_the_business_page_shows_its_profile_members_and_modules(
    console: Console, database: Database
) -> None:
    tenant = await make_tenant(database)
    await add_member(database, tenant)
    await signed_in_operator(console, database)

    response = await console.get(f"{TENANTS}/{tenant.tenant_id}")

    assert response.status_code == 200
    assert f'data-testid="business-name">Biz {tenant.slug}<' in response.text
    assert 'data-testid="business-status">Active<' in response.text
    assert 'data-testid="business-members">2<' in response.text
    profile = response.text.split('data-testid="business-profile"')[1].split("</dl>")[0]
    assert f"<dd>{tenant.slug}</dd>" in profile and "<dd>Africa/Lagos</dd>" in profile
    modules = response.text.split('data-testid="business-modules"')[1].split("</ul>")[0]
    assert "<small>(identity)</small>" in modules
    assert 'data-testid="suspend-form"' in response.text
    assert 'data-confirm="Suspend Biz ' in response.text


async def test_an_operator_suspends_a_business_and_its_owner_loses_access(
    console: Console,
    second_console: Console,
    client: httpx.AsyncClient,
    database: Database,
) -> None:
    tenant = await make_tenant(database)
    assert (await second_console.sign_in(tenant.owner.email)).status_code == 303
    assert (await second_console.get("/")).status_code == 200
    operator = await signed_in_operator(console, database)
    await console.get(f"{TENANTS}/{tenant.tenant_id}")

    response = await console.post(
        f"{TENANTS}/{tenant.tenant_id}/suspend", {"reason": "Unpaid since September"}
    )

    assert response.status_code == 303
    assert response.headers["location"] == f"{TENANTS}/{tenant.tenant_id}"
    page = await console.get(response.headers["location"])
    assert f'data-testid="flash">Biz {tenant.slug} is suspended.<' in page.text
    assert 'data-testid="business-status">Suspended<' in page.text
    assert 'data-testid="suspended-reason">Unpaid since September<' in page.text
    assert 'data-testid="reactivate"' in page.text
    assert await status_of(database, tenant.tenant_id) == "suspended"
    owner_page = await second_console.get("/")
    assert owner_page.status_code == 403
    assert "This business is suspended" in owner_page.text
    assert (await second_console.get("/")).headers["location"] == "/sign-in"  # cookie dropped
    again = await second_console.sign_in(tenant.owner.email)
    assert again.status_code == 403
    assert f"The business &#39;{tenant.slug}&#39; is suspended</div>" in again.text
    api = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {tenant.api_key}"})
    assert api.status_code == 403
    assert api.json()["code"] == "tenant_suspended"
    assert await audit_actions(database, tenant) == [
        ("platform.tenant.suspended", operator.user_id)
    ]


async def audit_actions(
    database: Database, tenant: TenantFixture
) -> list[tuple[str, uuid.UUID | None]]:
    """The platform actions on a business's audit trail, oldest first, with their actor."""
    async with database.transaction() as session:
        rows = (
            await session.execute(
                select(AuditEvent.action, AuditEvent.actor_id)
                .where(
                    AuditEvent.tenant_id == tenant.tenant_id,
                    AuditEvent.action.like("platform.%"),
                )
                .order_by(AuditEvent.occurred_at)
            )
        ).all()
    return [(action, actor) for action, actor in rows]


async def test_a_reactivated_business_gets_its_access_back(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    await signed_in_operator(console, database)
    await console.post(f"{TENANTS}/{tenant.tenant_id}/suspend", {"reason": "test"})

    response = await console.post(f"{TENANTS}/{tenant.tenant_id}/reactivate")

    assert response.status_code == 303
    page = await console.get(f"{TENANTS}/{tenant.tenant_id}")
    assert f'data-testid="flash">Biz {tenant.slug} is active again.<' in page.text
    assert 'data-testid="business-status">Active<' in page.text
    assert await status_of(database, tenant.tenant_id) == "active"
    api = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {tenant.api_key}"})
    assert api.status_code == 200


async def test_suspending_needs_a_reason(console: Console, database: Database) -> None:
    tenant = await make_tenant(database)
    await signed_in_operator(console, database)

    response = await console.post(f"{TENANTS}/{tenant.tenant_id}/suspend", {"reason": "  "})

    assert response.status_code == 422
    assert 'data-testid="error-reason"' in response.text
    assert 'data-testid="form-error">Give the reason for the suspension.<' in response.text
    assert await status_of(database, tenant.tenant_id) == "active"


async def test_suspending_a_suspended_business_says_so(
    console: Console, database: Database
) -> None:
    tenant = await make_tenant(database)
    await signed_in_operator(console, database)
    await console.post(f"{TENANTS}/{tenant.tenant_id}/suspend", {"reason": "first"})

    response = await console.post(f"{TENANTS}/{tenant.tenant_id}/suspend", {"reason": "second"})

    assert response.status_code == 303
    page = await console.get(response.headers["location"])
    assert 'data-testid="flash">This business is already suspended.<' in page.text
    assert 'data-testid="suspended-reason">first<' in page.text


@pytest.mark.parametrize("tenant_id", ["0199b8a4-2f1e-7c3d-9a5b-6e7f8091a2b3", "not-a-uuid"])
async def test_an_unknown_business_is_a_404_page(
    console: Console, database: Database, tenant_id: str
) -> None:
    await signed_in_operator(console, database)

    page = await console.get(f"{TENANTS}/{tenant_id}")
    action = await console.post(f"{TENANTS}/{tenant_id}/suspend", {"reason": "x"})

    assert page.status_code == 404
    assert action.status_code == 404
    assert 'data-testid="error-page"' in page.text


async def test_a_business_owner_who_is_not_an_operator_gets_403(
    console: Console, database: Database
) -> None:
    tenant = await make_tenant(database)
    other = await make_tenant(database)
    await console.sign_in(tenant.owner.email)

    listing = await console.get(TENANTS)
    detail = await console.get(f"{TENANTS}/{other.tenant_id}")
    action = await console.post(f"{TENANTS}/{other.tenant_id}/suspend", {"reason": "x"})

    assert listing.status_code == 403
    assert 'data-testid="error-page"' in listing.text
    assert "You do not have access to this page" in listing.text
    assert detail.status_code == 403
    assert action.status_code == 403
    assert await status_of(database, other.tenant_id) == "active"
    home = await console.get("/")
    assert f'href="{TENANTS}"' not in home.text


async def test_the_operator_pages_need_a_session(console: Console) -> None:
    response = await console.get(TENANTS)

    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in?next=%2Fplatform%2Ftenants"
