"""SQLite's write lock: a writer waits for it on the event loop, without SQLite's sleeping busy
handler, and gives up with "database is locked" after the timeout."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from nexus.core import sqlite_driver
from nexus.core.db import Database
from nexus.core.security import Keyring
from tests.conftest import ENGINE, SECRET_KEYS

pytestmark = pytest.mark.skipif(ENGINE != "sqlite", reason="SQLite's write lock")


@pytest.fixture
async def two_processes(tmp_path: Path) -> AsyncIterator[tuple[Database, Database]]:
    """Two databases on one file, each with its own connections, as two server processes."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'lock.db'}"
    first = Database(url, keyring=Keyring(SECRET_KEYS))
    second = Database(url, keyring=Keyring(SECRET_KEYS))
    async with first.engine.begin() as connection:
        await connection.execute(text("CREATE TABLE t (n INTEGER)"))
    yield first, second
    await first.dispose()
    await second.dispose()


async def _insert(database: Database, n: int) -> None:
    async with database.engine.begin() as connection:
        await connection.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})


async def _rows(database: Database) -> list[int]:
    async with database.read_engine.connect() as connection:
        return list((await connection.execute(text("SELECT n FROM t ORDER BY n"))).scalars())


async def test_a_writer_waits_for_the_lock_and_writes_once_it_is_free(
    two_processes: tuple[Database, Database],
) -> None:
    holder, waiter = two_processes
    async with holder.engine.begin() as held:
        await held.execute(text("INSERT INTO t VALUES (1)"))
        waiting = asyncio.create_task(_insert(waiter, 2))
        await asyncio.sleep(0.05)
        assert not waiting.done()
    await asyncio.wait_for(waiting, timeout=5)

    assert await _rows(holder) == [1, 2]


async def test_a_writer_gives_up_after_the_timeout_and_keeps_its_busy_timeout(
    two_processes: tuple[Database, Database], monkeypatch: pytest.MonkeyPatch
) -> None:
    holder, waiter = two_processes
    monkeypatch.setattr(sqlite_driver, "WRITE_LOCK_TIMEOUT", 0.05)
    async with holder.engine.begin() as held:
        await held.execute(text("INSERT INTO t VALUES (1)"))
        with pytest.raises(OperationalError, match="database is locked"):
            await _insert(waiter, 2)
    async with waiter.engine.connect() as connection:
        timeout = (await connection.execute(text("PRAGMA busy_timeout"))).scalar_one()
    await _insert(waiter, 3)

    assert timeout == sqlite_driver.BUSY_TIMEOUT_MS
    assert await _rows(holder) == [1, 3]
