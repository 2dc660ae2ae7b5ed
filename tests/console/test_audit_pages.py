"""The audit log page: newest first, filters by person, action and days, pages."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import httpx
import pytest

from nexus.console.pages import audit as audit_pages
from nexus.core.audit import AuditEvent
from nexus.core.db import Database
from tests.console.browser_client import Console
from tests.identity.factories import TenantFixture, add_member, make_tenant, unique


def actions(html: str) -> list[str]:
    return re.findall(r'data-testid="event-action"><code>([^<]+)<', html)


async def make_role(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    key = unique("role").replace("-", "_")
    body = {"key": key, "name": "Cashier", "permissions": ["identity.user.read"]}
    response = await client.post("/api/v1/identity/roles", json=body, headers=headers)
    assert response.status_code == 201, response.text


async def add_events(
    database: Database, tenant: TenantFixture, *events: tuple[str, dt.datetime]
) -> None:
    async with database.transaction() as session:
        for action, when in events:
            session.add(
                AuditEvent(
                    tenant_id=tenant.tenant_id,
                    occurred_at=when,
                    actor_type="user",
                    actor_id=tenant.owner.user_id,
                    action=action,
                    changes=[],
                )
            )


async def test_events_are_listed_newest_first_with_who_did_them(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    admin = await add_member(database, tenant, role="admin")
    await console.sign_in(tenant.owner.email)
    await make_role(client, tenant.headers)
    await client.post(
        "/api/v1/identity/users",
        json={"email": f"{unique('invitee')}@example.com", "role": "staff"},
        headers=admin.headers,
    )

    response = await console.get("/audit", params={"action": "identity.*"})

    assert response.status_code == 200
    listed = actions(response.text)
    assert listed[:2] == ["identity.user.invited", "identity.role.created"]
    who = re.findall(r'data-testid="event-actor">([^<]+)<', response.text)
    assert who[:2] == ["Bola Member", "Ada Owner"]
    assert f'<option value="{admin.user_id}" >Bola Member &lt;{admin.email}&gt;<' in response.text


async def test_filters_by_person_and_by_action_prefix(
    console: Console, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    admin = await add_member(database, tenant, role="admin")
    await make_role(client, tenant.headers)
    await make_role(client, admin.headers)
    await client.post(
        "/api/v1/identity/users",
        json={"email": f"{unique('invitee')}@example.com", "role": "staff"},
        headers=tenant.headers,
    )
    await console.sign_in(tenant.owner.email)

    by_admin = await console.get("/audit", params={"actor": str(admin.user_id)})
    roles = await console.get("/audit", params={"action": "identity.role.*"})
    exact = await console.get("/audit", params={"action": "identity.user.invited"})

    assert actions(by_admin.text) == ["identity.role.created"]
    assert f'<option value="{admin.user_id}" selected>' in by_admin.text
    assert actions(roles.text) == ["identity.role.created", "identity.role.created"]
    assert 'value="identity.role.*"' in roles.text
    assert actions(exact.text) == ["identity.user.invited"]


async def test_days_are_the_business_calendar_and_times_its_clock(
    console: Console, database: Database
) -> None:
    tenant = await make_tenant(database, timezone="Asia/Tokyo")  # UTC+9
    await add_events(
        database,
        tenant,
        ("test.before", dt.datetime(2026, 3, 1, 14, 30, tzinfo=dt.UTC)),  # 1 March 23:30
        ("test.first", dt.datetime(2026, 3, 1, 15, 30, tzinfo=dt.UTC)),  # 2 March 00:30
        ("test.last", dt.datetime(2026, 3, 2, 14, 59, tzinfo=dt.UTC)),  # 2 March 23:59
        ("test.after", dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)),  # 3 March 00:00
    )
    await console.sign_in(tenant.owner.email)

    response = await console.get("/audit", params={"from": "2026-03-02", "to": "2026-03-02"})

    assert actions(response.text) == ["test.last", "test.first"]
    times = re.findall(r'data-testid="event-time">([^<]+)<', response.text)
    assert times == ["2026-03-02 23:59", "2026-03-02 00:30"]
    assert "Times are in Asia/Tokyo." in response.text


async def test_the_next_page_keeps_the_filters(
    console: Console, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = await make_tenant(database)
    await add_events(
        database,
        tenant,
        ("test.one", dt.datetime(2026, 3, 1, 10, tzinfo=dt.UTC)),
        ("test.two", dt.datetime(2026, 3, 1, 11, tzinfo=dt.UTC)),
        ("other.three", dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)),
    )
    monkeypatch.setattr(audit_pages, "PAGE_SIZE", 1)
    await console.sign_in(tenant.owner.email)

    first = await console.get("/audit", params={"action": "test.*", "from": "2026-03-01"})
    link = re.search(r'href="(/audit\?[^"]+)"[^>]*data-testid="next-page"', first.text)
    assert link is not None
    second = await console.get(link.group(1))

    assert actions(first.text) == ["test.two"]
    assert link.group(1).startswith("/audit?action=test.%2A&from=2026-03-01&cursor=")
    assert actions(second.text) == ["test.one"]
    assert 'data-testid="next-page"' not in second.text


async def test_bad_filters_are_named_next_to_their_fields(
    console: Console, database: Database
) -> None:
    tenant = await make_tenant(database)
    await console.sign_in(tenant.owner.email)

    bad_day = await console.get("/audit", params={"from": "yesterday"})
    backwards = await console.get("/audit", params={"from": "2026-03-02", "to": "2026-03-01"})
    bad_actor = await console.get("/audit", params={"actor": "someone"})

    assert bad_day.status_code == 422
    assert 'data-testid="error-from"' in bad_day.text
    assert 'value="yesterday"' in bad_day.text
    assert backwards.status_code == 422
    assert 'data-testid="error-to"' in backwards.text
    assert bad_actor.status_code == 422
    assert 'data-testid="error-actor"' in bad_actor.text
    assert 'data-testid="audit-events"' not in bad_day.text


async def test_nothing_matching_shows_the_empty_state(console: Console, database: Database) -> None:
    tenant = await make_tenant(database)
    await console.sign_in(tenant.owner.email)

    response = await console.get("/audit", params={"action": "nothing.happened"})

    assert response.status_code == 200
    assert 'data-testid="empty-state"' in response.text
    assert 'data-testid="clear-filters"' in response.text


async def test_a_manager_reads_the_log_and_staff_may_not(
    console: Console, second_console: Console, database: Database
) -> None:
    tenant = await make_tenant(database)
    manager = await add_member(database, tenant, role="manager")
    staff = await add_member(database, tenant, role="staff")
    await console.sign_in(manager.email)
    await second_console.sign_in(staff.email)

    assert (await console.get("/audit")).status_code == 200
    assert (await second_console.get("/audit")).status_code == 403


async def test_another_business_events_never_show(console: Console, database: Database) -> None:
    ours = await make_tenant(database)
    theirs = await make_tenant(database)
    marker = f"test.{uuid.uuid4().hex}"
    await add_events(database, theirs, (marker, dt.datetime(2026, 3, 1, 10, tzinfo=dt.UTC)))
    await console.sign_in(ours.owner.email)

    everything = await console.get("/audit")
    their_owner = await console.get("/audit", params={"actor": str(theirs.owner.user_id)})

    assert marker not in everything.text
    assert actions(their_owner.text) == []
    assert 'data-testid="empty-state"' in their_owner.text
