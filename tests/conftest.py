"""Test harness: one database per xdist worker, built by the real migrations.

`NEXUS_TEST_ENGINE` picks the engine: `sqlite` (default) or `postgresql`, which needs
`NEXUS_TEST_POSTGRES_URL` (an ordinary role with CREATEDB; `make test` starts a private cluster).

- `session`: tier 1, a session inside a transaction that is rolled back after the test.
- `client`: tier 2, the app in-process over httpx's ASGI transport, on committed data; tests
  keep apart by making their own tenants (unique slugs and e-mails).
- `mailbox`: a real SMTP server (aiosmtpd) that the worker delivers to.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from nexus.app import create_app
from nexus.cli import upgrade_database
from nexus.core.db import Database
from nexus.core.security import Keyring
from nexus.core.settings import Settings
from nexus.core.worker import Worker
from nexus.modules import load_modules
from tests.mailbox import Mailbox

ENGINE = os.environ.get("NEXUS_TEST_ENGINE", "sqlite")
SECRET_KEYS = [
    "test-key-newest-0123456789abcdef0123456789",
    "test-key-older-0123456789abcdef01234567",
]


def _plain_postgres_url(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


def _create_postgres_database(base_url: str, name: str) -> str:
    async def create() -> None:
        connection = await asyncpg.connect(_plain_postgres_url(base_url))
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()

    asyncio.run(create())
    return base_url.rsplit("/", 1)[0] + f"/{name}"


def _drop_postgres_database(base_url: str, name: str) -> None:
    async def drop() -> None:
        connection = await asyncpg.connect(_plain_postgres_url(base_url))
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()

    asyncio.run(drop())


def fresh_database_url(tmp_path: Path, label: str) -> Iterator[str]:
    """A new, migrated database on the engine under test; dropped afterwards."""
    if ENGINE == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / f'{label}.db'}"
        upgrade_database(url)
        yield url
        return
    base = os.environ.get("NEXUS_TEST_POSTGRES_URL")
    if not base:
        raise RuntimeError("NEXUS_TEST_POSTGRES_URL is required when NEXUS_TEST_ENGINE=postgresql")
    name = f"nexus_{label}_{uuid.uuid4().hex[:8]}"
    url = _create_postgres_database(base, name)
    upgrade_database(url)
    try:
        yield url
    finally:
        _drop_postgres_database(base, name)


@pytest.fixture(scope="session")
def engine_name() -> str:
    return ENGINE


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Iterator[str]:
    yield from fresh_database_url(tmp_path_factory.mktemp("db"), f"test_{worker_id}")


@pytest.fixture(scope="session")
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()
    box.start()
    yield box
    box.stop()


def make_settings(database_url: str, mailbox: Mailbox, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "secret_keys": SECRET_KEYS,
        "smtp_url": mailbox.url,
        "public_base_url": "http://nexus.test",
        "dev": False,
        "open_signup": False,
        "log_format": "console",
        "log_level": "WARNING",
        "run_worker_in_server": False,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def settings(database_url: str, mailbox: Mailbox) -> Settings:
    return make_settings(database_url, mailbox)


@pytest.fixture(scope="session")
async def database(settings: Settings) -> AsyncIterator[Database]:
    load_modules()
    db = Database(settings.database_url, keyring=Keyring(settings.secret_keys), pool_size=5)
    yield db
    await db.dispose()


@pytest.fixture
async def session(database: Database) -> AsyncIterator[AsyncSession]:
    """Tier 1: everything the test writes is rolled back at its end."""
    async with database.engine.connect() as connection:
        transaction = await connection.begin()
        db_session = AsyncSession(
            bind=connection,
            expire_on_commit=False,
            join_transaction_mode="create_savepoint",
            info={"database": database, "tenant_id": None},
        )
        try:
            yield db_session
        finally:
            await db_session.close()
            await transaction.rollback()


@pytest.fixture(scope="session")
def app(settings: Settings, database: Database):  # type: ignore[no-untyped-def]
    return create_app(settings, database)


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://nexus.test") as http:
        yield http


@pytest.fixture
def worker(database: Database, settings: Settings) -> Worker:
    """Run `await worker.run_until_idle()` to deliver events, jobs and mail now."""
    return Worker(database, settings, name=f"test-{uuid.uuid4().hex[:6]}")
