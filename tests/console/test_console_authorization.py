"""Every console page, enumerated from the app's routes and their declared requirements:
an anonymous visitor is sent to sign in, a member without the page's permission gets the 403
page, a member holding exactly that permission gets the page. (Pages taking an id are also
covered for other businesses' ids in their own tests.)"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from nexus.app import create_app
from nexus.console.shell import ConsoleRoute
from nexus.core.db import Database
from nexus.core.http import Requirement, requirement_of
from nexus.core.registry import registry
from nexus.core.settings import Settings
from tests.console.browser_client import Console
from tests.identity.factories import TenantFixture, add_member, make_tenant


async def every_module_tenant(database: Database) -> TenantFixture:
    """A business with every module on, so each module's pages are reachable."""
    return await make_tenant(
        database, modules=sorted(set(registry.modules) - registry.always_enabled())
    )


@dataclass(frozen=True)
class Page:
    path: str
    requirement: Requirement | None

    @property
    def id(self) -> str:
        return self.path


def _pages() -> list[Page]:
    settings = Settings(
        database_url="sqlite+aiosqlite:///:memory:",
        secret_keys=["route-listing-only"],
        log_format="console",
        log_level="WARNING",
        run_worker_in_server=False,
    )
    app = create_app(settings)
    return [
        Page(route.path, requirement_of(route))
        for route in app.routes
        if isinstance(route, ConsoleRoute) and "GET" in route.methods and "{" not in route.path
    ]


PAGES = _pages()
GUARDED = [p for p in PAGES if p.requirement is not None and not p.requirement.platform]
PERMISSIONED = [p for p in GUARDED if p.requirement and p.requirement.permission]
#: Pages anyone may open (signing in and the links that arrive by e-mail).
PUBLIC = {
    "/sign-in",
    "/forgot-password",
    "/reset-password",
    "/accept-invitation",
    "/verify-email",
}


def test_every_page_is_guarded_or_known_to_be_public() -> None:
    unguarded = {p.path for p in PAGES if p.requirement is None}

    assert sorted(unguarded - PUBLIC) == []
    assert len(GUARDED) >= 5


@pytest.mark.parametrize("page", GUARDED, ids=[p.id for p in GUARDED])
async def test_anonymous_visitors_are_sent_to_sign_in(console: Console, page: Page) -> None:
    response = await console.get(page.path)

    assert response.status_code == 303
    assert response.headers["location"].startswith("/sign-in")


@pytest.mark.parametrize("page", PERMISSIONED, ids=[p.id for p in PERMISSIONED])
async def test_a_member_without_the_permission_gets_the_403_page(
    console: Console, database: Database, page: Page
) -> None:
    tenant = await every_module_tenant(database)
    member = await add_member(database, tenant, permissions=[])
    await console.sign_in(member.email)

    response = await console.get(page.path)

    assert response.status_code == 403
    assert 'data-testid="error-page"' in response.text


@pytest.mark.parametrize("page", PERMISSIONED, ids=[p.id for p in PERMISSIONED])
async def test_a_member_holding_the_permission_gets_the_page(
    console: Console, database: Database, page: Page
) -> None:
    tenant = await every_module_tenant(database)
    assert page.requirement is not None and page.requirement.permission is not None
    member = await add_member(database, tenant, permissions=list(page.requirement.permissions))
    await console.sign_in(member.email)

    response = await console.get(page.path)

    assert response.status_code == 200, response.text[:500]
    assert 'data-testid="error-page"' not in response.text
