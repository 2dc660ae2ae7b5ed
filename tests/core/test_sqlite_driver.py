"""The SQLite driver: a writer waits for the write lock on the event loop, without SQLite's
sleeping busy handler, and gives up with "database is locked" after the timeout; the INSERTs of
a request's commit travel with COMMIT in one hop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from nexus.core import sqlite_driver
from nexus.core.db import INLINE, Database, commit
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


class _Base(DeclarativeBase):
    pass


class _Row(_Base):
    __tablename__ = "rows"
    n: Mapped[int] = mapped_column(primary_key=True)


@pytest.fixture
async def rows_database(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'rows.db'}", keyring=Keyring(SECRET_KEYS))
    async with database.engine.begin() as connection:
        await connection.run_sync(_Base.metadata.create_all)
    yield database
    await database.dispose()


def _count_hops(monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    hops: list[str | None] = []
    original = sqlite_driver.OneHopConnection.hop

    async def counted(
        self: Any, operation: str | None, parameters: Any, many: bool, **options: Any
    ) -> Any:
        hops.append(operation.split()[0] if operation else "COMMIT")
        return await original(self, operation, parameters, many, **options)

    monkeypatch.setattr(sqlite_driver.OneHopConnection, "hop", counted)
    return hops


async def test_the_writes_of_a_commit_travel_with_it_in_one_hop(
    rows_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    hops = _count_hops(monkeypatch)
    async with rows_database.session() as session:
        await session.execute(select(_Row.n))  # the transaction's first statement: BEGIN with it
        session.add_all([_Row(n=1), _Row(n=2)])
        session.add(_Row(n=3))
        await commit(session)
    writer_hops = list(hops)

    async with rows_database.session(write=False) as session:
        assert list(await session.scalars(select(_Row.n).order_by(_Row.n))) == [1, 2, 3]
    assert writer_hops == ["SELECT", "COMMIT"]


@pytest.mark.parametrize("inline", [False, True], ids=["on the thread", "a request's, in place"])
async def test_a_failing_write_of_a_commit_is_raised_by_it_and_nothing_is_kept(
    rows_database: Database, inline: bool
) -> None:
    async with rows_database.session() as session:
        session.add(_Row(n=1))
        await commit(session)

    async with rows_database.session() as session:
        session.info[INLINE] = inline
        await session.execute(select(_Row.n))
        session.add(_Row(n=2))
        await session.flush()  # a flush before the commit still runs at once
        session.add(_Row(n=1))  # a clash, found only when the commit's INSERT runs
        with pytest.raises(IntegrityError):
            await commit(session)

    async with rows_database.session() as session:
        session.info[INLINE] = inline
        assert list(await session.scalars(select(_Row.n))) == [1]
        session.add(_Row(n=5))
        await commit(session)  # the connection is usable again
        assert list(await session.scalars(select(_Row.n).order_by(_Row.n))) == [1, 5]


def _thread_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """One entry per call run on a connection's thread."""
    calls: list[str] = []
    original = aiosqlite.Connection._execute

    async def on_thread(self: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append("call")
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", on_thread)
    return calls


@pytest.mark.parametrize("queued", [True, False], ids=["inserts with commit", "flushed first"])
async def test_a_requests_write_transaction_commits_without_a_trip_to_the_thread(
    rows_database: Database, monkeypatch: pytest.MonkeyPatch, queued: bool
) -> None:
    async with rows_database.session() as session:
        session.add(_Row(n=1))
        await commit(session)  # opens the write connection
    calls = _thread_calls(monkeypatch)

    async with rows_database.session() as session:
        session.info[INLINE] = True
        await session.execute(select(_Row.n))
        session.add(_Row(n=2))
        if not queued:
            await session.flush()
        await commit(session)

    assert calls == []
    async with rows_database.session(write=False) as session:
        assert list(await session.scalars(select(_Row.n).order_by(_Row.n))) == [1, 2]


async def _count(database: Database, sql: str) -> int:
    async with database.session(write=False) as session:
        session.info[INLINE] = True
        return int((await session.execute(text(sql))).scalar_one())


async def test_a_request_reads_in_place_and_a_long_read_moves_to_the_thread(
    rows_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    thread_calls = _thread_calls(monkeypatch)
    long_read = (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300000) "
        "SELECT count(*) FROM n"
    )

    await _count(rows_database, "SELECT 1")  # opens the read connection
    thread_calls.clear()
    short = await _count(rows_database, "SELECT count(*) FROM rows")
    short_calls = len(thread_calls)
    monkeypatch.setattr(sqlite_driver, "READ_IN_PLACE_MS", 0.01)
    long = await _count(rows_database, long_read)

    assert (short, long) == (0, 300000)
    assert short_calls == 0  # the read and the end of its transaction ran in place
    assert len(thread_calls) == 1  # the long read moved to the thread; its end did not


def test_only_reads_run_in_place_with_a_time_limit() -> None:
    assert sqlite_driver._is_read("SELECT 1")
    assert sqlite_driver._is_read("  with n(i) as (select 1) select i from n")
    assert not sqlite_driver._is_read("INSERT INTO t VALUES (1)")
    assert not sqlite_driver._is_read("WITH x AS (SELECT 1) DELETE FROM t")
    assert not sqlite_driver._is_read("UPDATE t SET n = 2")


async def test_writers_of_one_process_take_turns_in_order_and_only_the_first_polls(
    two_processes: tuple[Database, Database], monkeypatch: pytest.MonkeyPatch
) -> None:
    database, _ = two_processes
    tries: list[int] = []
    original = sqlite_driver._begin_immediate

    def counted(cursor: Any) -> bool:
        tries.append(1)
        return original(cursor)

    monkeypatch.setattr(sqlite_driver, "_begin_immediate", counted)
    order: list[int] = []

    async def write(n: int) -> None:
        async with database.engine.begin() as connection:
            await connection.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})
            order.append(n)

    async with database.engine.begin() as held:
        await held.execute(text("INSERT INTO t VALUES (1)"))
        waiting = []
        for n in (4, 2, 3):  # arrive in this order
            waiting.append(asyncio.create_task(write(n)))
            await asyncio.sleep(0.02)
        assert not any(task.done() for task in waiting)
    await asyncio.wait_for(asyncio.gather(*waiting), timeout=5)

    assert order == [4, 2, 3]
    assert len(tries) == 4  # each writer tried the lock once: none polled while in line
    assert await _rows(database) == [1, 2, 3, 4]


async def test_a_rolled_back_or_failed_writer_lets_the_next_one_in(
    two_processes: tuple[Database, Database],
) -> None:
    database, _ = two_processes
    async with database.engine.connect() as connection:
        transaction = await connection.begin()
        await connection.execute(text("INSERT INTO t VALUES (1)"))
        await transaction.rollback()
    with pytest.raises(OperationalError):
        async with database.engine.begin() as connection:
            await connection.execute(text("INSERT INTO missing VALUES (1)"))
    await asyncio.wait_for(_insert(database, 2), timeout=5)
    assert await _rows(database) == [2]


async def test_an_invalidated_writer_lets_the_next_one_in(
    two_processes: tuple[Database, Database],
) -> None:
    database, _ = two_processes
    connection = await database.engine.connect()
    await connection.begin()
    await connection.execute(text("INSERT INTO t VALUES (1)"))
    await connection.invalidate()  # the driver connection is terminated, not rolled back
    await connection.close()

    await asyncio.wait_for(_insert(database, 2), timeout=5)
    assert await _rows(database) == [2]
