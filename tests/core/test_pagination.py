from __future__ import annotations

import base64
import datetime as dt
import uuid
from typing import Annotated

import pytest
from fastapi import APIRouter, Query
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from nexus.core.db import Database, bind_tenant
from nexus.core.http import NexusRoute, Session
from nexus.core.pagination import paginate
from nexus.core.settings import Settings
from nexus.identity.models import Role, Tenant
from tests.core.conftest import add_tenant, app_with, client_for

BASE = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


async def _roles(session: AsyncSession, count: int, *, same_time: bool = False) -> list[Role]:
    tenant = await add_tenant(session)
    await bind_tenant(session, tenant.id)
    roles = [
        Role(
            key=f"role-{i:03}",
            name=f"Role {i}",
            created_at=BASE if same_time else BASE + dt.timedelta(seconds=i // 3),
        )
        for i in range(count)
    ]
    session.add_all(roles)
    await session.flush()
    return roles


async def _walk(session: AsyncSession, *, descending: bool = False) -> list[list[uuid.UUID]]:
    pages: list[list[uuid.UUID]] = []
    cursor = None
    while True:
        page = await paginate(
            session,
            select(Role),
            sort=Role.created_at,
            id_column=Role.id,
            limit=50,
            cursor=cursor,
            descending=descending,
        )
        pages.append([role.id for role in page.items])
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor


async def test_pages_cover_every_row_once_in_order(session: AsyncSession) -> None:
    roles = await _roles(session, 120)
    expected = [r.id for r in sorted(roles, key=lambda r: (r.created_at, r.id))]

    pages = await _walk(session)

    assert [len(page) for page in pages] == [50, 50, 20]
    assert [row for page in pages for row in page] == expected


async def test_descending_pages_cover_every_row_once_in_reverse(session: AsyncSession) -> None:
    roles = await _roles(session, 120)
    expected = [r.id for r in sorted(roles, key=lambda r: (r.created_at, r.id), reverse=True)]

    pages = await _walk(session, descending=True)

    assert [len(page) for page in pages] == [50, 50, 20]
    assert [row for page in pages for row in page] == expected


async def test_equal_sort_keys_are_tie_broken_by_id(session: AsyncSession) -> None:
    roles = await _roles(session, 120, same_time=True)

    pages = await _walk(session)

    assert [len(page) for page in pages] == [50, 50, 20]
    assert [row for page in pages for row in page] == sorted(r.id for r in roles)


async def test_a_page_shorter_than_the_limit_has_no_next_cursor(session: AsyncSession) -> None:
    await _roles(session, 50)

    pages = await _walk(session)

    assert [len(page) for page in pages] == [50]


def _tenants_router() -> APIRouter:
    router = APIRouter(route_class=NexusRoute)

    @router.get("/test/tenants")
    async def list_tenants(session: Session, cursor: Annotated[str | None, Query()] = None) -> dict:
        page = await paginate(
            session, select(Tenant), sort=Tenant.created_at, id_column=Tenant.id, cursor=cursor
        )
        return {"count": len(page.items), "next_cursor": page.next_cursor}

    return router


def _encoded(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


ROW = "0190d2a4-8f00-7000-8000-000000000001"
BAD_CURSORS = {
    "not base64 json": "not-a-cursor",
    "not a pair": _encoded('{"a": 1}'),
    "bad id": _encoded('[{"dt": "2026-01-01T00:00:00+00:00"}, "zz"]'),
    "bad time": _encoded(f'[{{"dt": "yesterday"}}, "{ROW}"]'),
    "plain string for a time": _encoded(f'["2026-01-01", "{ROW}"]'),
    "list for a time": _encoded(f'[[1, 2], "{ROW}"]'),
    "number for a time": _encoded(f'[5, "{ROW}"]'),
}


@pytest.mark.parametrize("cursor", BAD_CURSORS.values(), ids=BAD_CURSORS.keys())
async def test_a_cursor_this_api_did_not_return_is_a_422_naming_the_cursor(
    settings: Settings, database: Database, cursor: str
) -> None:
    app = app_with(settings, database, _tenants_router())

    async with await client_for(app) as http:
        response = await http.get("/test/tenants", params={"cursor": cursor})

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "validation_failed"
    assert [error["field"] for error in body["errors"]] == ["query.cursor"]
