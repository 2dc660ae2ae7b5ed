"""Fixtures for the kernel's tests: tenant rows under rollback, a fresh committed database for
paths that commit on their own, and a test router mounted on a fresh app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from nexus.app import create_app
from nexus.core.db import Database
from nexus.core.events import OutboxEvent
from nexus.core.jobs import Job
from nexus.core.security import Keyring
from nexus.core.settings import Settings
from nexus.identity.models import Tenant
from tests.conftest import SECRET_KEYS, fresh_database_url
from tests.identity.factories import unique


async def add_tenant(session: AsyncSession) -> Tenant:
    """A tenant row in the test's (rolled-back) transaction."""
    slug = unique("biz")
    tenant = Tenant(
        name=f"Biz {slug}", slug=slug, country="NG", currency="NGN", timezone="Africa/Lagos"
    )
    session.add(tenant)
    await session.flush()
    return tenant


@pytest.fixture(scope="module")
def own_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from fresh_database_url(tmp_path_factory.mktemp("own"), "own")


@pytest.fixture(scope="module")
async def own_database(own_database_url: str) -> AsyncIterator[Database]:
    """A fresh, migrated database of this test module alone (committed data, no neighbours)."""
    database = Database(own_database_url, keyring=Keyring(SECRET_KEYS), pool_size=5)
    yield database
    await database.dispose()


@pytest.fixture
async def quiet_database(own_database: Database) -> Database:
    """`own_database` with no job and no outbox event left over from an earlier test."""
    async with own_database.transaction() as session:
        await session.execute(delete(Job))
        await session.execute(delete(OutboxEvent))
    return own_database


def app_with(settings: Settings, database: Database, router: APIRouter) -> FastAPI:
    """A fresh app (not the shared one) with `router` mounted next to every module's."""
    app = create_app(settings, database)
    app.include_router(router)
    return app


async def client_for(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://nexus.test")
