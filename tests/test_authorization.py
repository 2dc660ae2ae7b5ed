"""Every endpoint's declared requirement, enforced: generated from the app's routes, so an
endpoint added later is covered (or this fails until it declares one or is listed public)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import httpx
import pytest
from fastapi.routing import APIRoute

from nexus.app import create_app
from nexus.console.shell import ConsoleRoute
from nexus.core.db import Database
from nexus.core.http import Requirement, requirement_of
from nexus.core.registry import registry
from nexus.core.settings import Settings
from nexus.identity.service import credentials, users
from tests.identity.factories import Person, TenantFixture, add_member, make_tenant, unique

#: Operations anyone may call: signing in and recovering an account, health, the API docs.
PUBLIC = frozenset(
    {
        ("POST", "/api/v1/auth/login"),
        ("POST", "/api/v1/auth/refresh"),
        ("POST", "/api/v1/auth/forgot-password"),
        ("POST", "/api/v1/auth/reset-password"),
        ("POST", "/api/v1/auth/verify-email"),
        ("POST", "/api/v1/auth/accept-invitation"),
        ("POST", "/api/v1/auth/mfa/verify"),
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/metrics"),
        ("GET", "/favicon.ico"),
        # Activation decides itself: operators, or anyone while open sign-up is on.
        ("POST", "/api/v1/activate"),
        ("GET", "/api/v1/activate/schema"),
        ("POST", "/api/v1/activate/draft"),
        ("GET", "/docs"),
        ("GET", "/openapi.json"),
    }
)
WRITES = frozenset({"POST", "PUT", "PATCH"})


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    requirement: Requirement | None

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"

    def url(self) -> str:
        return re.sub(r"\{[^}]+\}", lambda _: str(uuid.uuid4()), self.path)


def _operations() -> list[Operation]:
    """Every API operation of the app as `create_app` builds it (routes read at run time).
    Console pages answer callers with pages, not problems: tests/console covers them."""
    settings = Settings(
        database_url="sqlite+aiosqlite:///:memory:",
        secret_keys=["route-listing-only"],
        log_format="console",
        log_level="WARNING",
        run_worker_in_server=False,
    )
    app = create_app(settings)
    return [
        Operation(method, route.path, requirement_of(route))
        for route in app.routes
        if isinstance(route, APIRoute) and not isinstance(route, ConsoleRoute)
        for method in sorted(route.methods - {"HEAD", "OPTIONS"})
    ]


OPERATIONS = _operations()
GUARDED = [op for op in OPERATIONS if op.requirement is not None]
TENANT_PERMISSIONED = [
    op
    for op in GUARDED
    if op.requirement is not None
    and op.requirement.permission is not None
    and not op.requirement.platform
    and not op.requirement.any_tenant
]
ANY_MEMBER = [
    op
    for op in GUARDED
    if op.requirement is not None
    and not op.requirement.platform
    and (op.requirement.permission is None or op.requirement.any_tenant)
]
PLATFORM = [op for op in GUARDED if op.requirement is not None and op.requirement.platform]


def _ids(operations: list[Operation]) -> list[str]:
    return [op.id for op in operations]


async def _call(
    client: httpx.AsyncClient, op: Operation, headers: dict[str, str]
) -> httpx.Response:
    body = {"json": {}} if op.method in WRITES else {}
    return await client.request(op.method, op.url(), headers=headers, **body)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
async def tenant(database: Database) -> TenantFixture:
    """A business with every module enabled; each test adds its own member to it."""
    enabled = sorted(set(registry.modules) - registry.always_enabled())
    return await make_tenant(database, modules=enabled)


async def _operator_headers(database: Database) -> dict[str, str]:
    async with database.transaction() as session:
        user = await users.create_user(
            session, email=f"{unique('operator')}@example.com", platform_role="operator"
        )
        tokens = await credentials.issue_tokens(
            session, user_id=user.id, tenant_id=None, access_minutes=15, refresh_days=1
        )
    return {"Authorization": f"Bearer {tokens.access_token}"}


def _headers(person: Person) -> dict[str, str]:
    return person.headers


def test_the_app_has_operations_to_check() -> None:
    assert ("GET", "/api/v1/me") in {(op.method, op.path) for op in GUARDED}


def test_every_operation_declares_a_requirement_or_is_public() -> None:
    undeclared = [op.id for op in OPERATIONS if op.requirement is None]

    assert sorted(set(undeclared) - {f"{m} {p}" for m, p in PUBLIC}) == []


def test_every_public_operation_still_exists() -> None:
    existing = {(op.method, op.path) for op in OPERATIONS} | {("GET", "/openapi.json")}

    assert sorted(PUBLIC - existing) == []


def test_every_declared_permission_is_registered() -> None:
    known = registry.permission_names()
    declared = {
        op.requirement.permission
        for op in GUARDED
        if op.requirement is not None
        and op.requirement.permission is not None
        and not op.requirement.platform
    }

    assert sorted(declared - known) == []


@pytest.mark.parametrize("op", GUARDED, ids=_ids(GUARDED))
async def test_anonymous_callers_get_401(client: httpx.AsyncClient, op: Operation) -> None:
    response = await _call(client, op, {})

    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "unauthenticated"


@pytest.mark.parametrize("op", TENANT_PERMISSIONED, ids=_ids(TENANT_PERMISSIONED))
async def test_a_member_without_the_permission_gets_403(
    client: httpx.AsyncClient, database: Database, tenant: TenantFixture, op: Operation
) -> None:
    member = await add_member(database, tenant, permissions=[])

    response = await _call(client, op, _headers(member))

    assert response.status_code == 403, response.text
    assert response.json()["code"] == "permission_denied"


@pytest.mark.parametrize("op", TENANT_PERMISSIONED, ids=_ids(TENANT_PERMISSIONED))
async def test_a_member_holding_exactly_the_permission_gets_through(
    client: httpx.AsyncClient, database: Database, tenant: TenantFixture, op: Operation
) -> None:
    assert op.requirement is not None and op.requirement.permission is not None
    member = await add_member(database, tenant, permissions=list(op.requirement.permissions))

    response = await _call(client, op, _headers(member))

    assert response.status_code not in (401, 403), response.text


NEEDING_MORE = [op for op in TENANT_PERMISSIONED if op.requirement and op.requirement.also]


def test_exports_also_need_to_read_what_they_export() -> None:
    needs = {(op.method, op.path): op.requirement.also for op in NEEDING_MORE if op.requirement}
    assert needs == {
        ("GET", "/api/v1/crm/contacts/export.csv"): ("crm.contact.read",),
        ("GET", "/api/v1/crm/companies/export.csv"): ("crm.company.read",),
        ("GET", "/api/v1/crm/deals/export.csv"): ("crm.deal.read",),
        ("GET", "/api/v1/crm/leads/export.csv"): ("crm.lead.read",),
        ("GET", "/api/v1/crm/contacts/{contact_id}/export"): ("crm.contact.read",),
    }


@pytest.mark.parametrize("op", NEEDING_MORE, ids=_ids(NEEDING_MORE))
async def test_a_member_missing_one_of_several_permissions_gets_403_naming_it(
    client: httpx.AsyncClient, database: Database, tenant: TenantFixture, op: Operation
) -> None:
    assert op.requirement is not None and op.requirement.permission is not None
    member = await add_member(database, tenant, permissions=[op.requirement.permission])

    response = await _call(client, op, _headers(member))

    assert response.status_code == 403, response.text
    assert response.json()["detail"] == f"Missing permission {op.requirement.also[0]}"


@pytest.mark.parametrize("op", ANY_MEMBER, ids=_ids(ANY_MEMBER))
async def test_a_member_holding_no_permission_gets_through_where_none_is_needed(
    client: httpx.AsyncClient, database: Database, tenant: TenantFixture, op: Operation
) -> None:
    member = await add_member(database, tenant, permissions=[])

    response = await _call(client, op, _headers(member))

    assert response.status_code not in (401, 403), response.text


@pytest.mark.parametrize("op", PLATFORM, ids=_ids(PLATFORM))
async def test_a_tenant_owner_is_not_an_operator(
    client: httpx.AsyncClient, tenant: TenantFixture, op: Operation
) -> None:
    owner = tenant

    by_token = await _call(client, op, owner.headers)
    by_key = await _call(client, op, {"Authorization": f"Bearer {owner.api_key}"})

    assert (by_token.status_code, by_key.status_code) == (403, 403)
    assert by_token.json()["code"] == "permission_denied"


@pytest.mark.parametrize("op", PLATFORM, ids=_ids(PLATFORM))
async def test_an_operator_gets_through_operator_routes(
    client: httpx.AsyncClient, database: Database, op: Operation
) -> None:
    response = await _call(client, op, await _operator_headers(database))

    assert response.status_code not in (401, 403), response.text
