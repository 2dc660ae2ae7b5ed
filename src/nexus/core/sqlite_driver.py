"""SQLite through aiosqlite with one thread hop per statement.

SQLAlchemy's aiosqlite adapter makes four round trips to the connection's thread for each
statement (open a cursor, execute, fetch, close). Each hop costs a queue put, a thread wake-up
and an event-loop wake-up, which on a small machine is most of the time of a one-row read. This
adapter keeps aiosqlite (its thread, its lifecycle) and SQLAlchemy's dialect, and replaces only
the cursor: it runs cursor-execute-fetch-close as one function on the connection's thread and
hands back the rows with the description, row count and last row id. A transaction's `BEGIN`
travels with its first statement, and COMMIT/ROLLBACK with no transaction open cost nothing, so
a one-row read transaction is two hops instead of eleven (none for a request's read, which runs
in place: see `run_inline`).

Waiting for the write lock: SQLite's own busy handler sleeps 1, 2, 5, 10, ... up to 100 ms
between tries, so with several processes writing, a waiter keeps sleeping past the moments the
lock is free and another process takes it again (seconds at the 99th percentile). A writer's
`BEGIN IMMEDIATE` is therefore tried without SQLite's busy wait, and while the lock is taken
the event loop (not the connection's thread) waits 0.2 ms, doubling up to 2 ms, and tries
again, for up to `WRITE_LOCK_TIMEOUT` seconds. The writers of one engine (one per process)
take turns, first come first served, before trying: a gate per engine and event loop, held
from `BEGIN IMMEDIATE` to COMMIT or ROLLBACK. Only the first in line polls the lock, and a
writer that came later can no longer take it first.

The commit's writes travel with COMMIT: when a request commits (`nexus.core.db.commit`), the
INSERTs the commit's flush sends (audit events, outbox events, other new rows) are queued and
run in the same hop as COMMIT (a request's on the event loop's thread: see `run_inline`), which
shortens the time the write lock is held by two or three event-loop round trips. An error of a
queued INSERT is raised by the commit, as it would be by the flush inside it.

Passed to `create_async_engine(..., module=dbapi())`; server-side cursors (streaming) keep
SQLAlchemy's own cursor.
"""

from __future__ import annotations

import asyncio
import collections
import sqlite3
import time
import weakref
from collections.abc import Sequence
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

_Outcome = tuple[Any, list[Any], int, int | None]

IMMEDIATE = "BEGIN IMMEDIATE"
#: How long a writer waits for the write lock before "database is locked" (seconds).
WRITE_LOCK_TIMEOUT = 30.0
FIRST_WAIT, LONGEST_WAIT = 0.0002, 0.002
#: The connections' own busy timeout (ms), for anything other than taking the write lock.
BUSY_TIMEOUT_MS = 30000


class _Busy:
    """The write lock was taken: nothing ran."""


BUSY = _Busy()


def _begin_immediate(cursor: sqlite3.Cursor) -> bool:
    """Take the write lock if it is free, without SQLite's sleeping busy handler."""
    cursor.execute("PRAGMA busy_timeout=0")
    try:
        cursor.execute(IMMEDIATE)
    except sqlite3.OperationalError as error:
        if error.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY:
            return False
        raise
    finally:
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    return True


async def _take_gate(
    gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock],
) -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    gate = gates.get(loop)
    if gate is None:
        gate = gates[loop] = asyncio.Lock()
    try:
        await asyncio.wait_for(gate.acquire(), WRITE_LOCK_TIMEOUT)
    except TimeoutError:
        raise sqlite3.OperationalError("database is locked") from None
    return gate


#: A queued write: (operation, parameters, executemany).
_Write = tuple[str, Any, bool]


def _run_one(cursor: sqlite3.Cursor, operation: str, parameters: Any, many: bool) -> None:
    if many:
        cursor.executemany(operation, parameters)
    elif parameters is None:
        cursor.execute(operation)
    else:
        cursor.execute(operation, parameters)


def _commit(
    connection: sqlite3.Connection, cursor: sqlite3.Cursor, queued: Sequence[_Write]
) -> None:
    """The queued writes, then COMMIT; if one fails, the transaction is rolled back (as a
    failed COMMIT is on PostgreSQL: the caller sees the commit fail and nothing kept)."""
    try:
        for write in queued:
            _run_one(cursor, *write)
    except BaseException:
        connection.rollback()
        raise
    connection.commit()


#: How long a read may run on the event loop's thread before it moves to the connection's.
READ_IN_PLACE_MS = 2.0
#: SQLite virtual-machine steps between two looks at the clock.
_PROGRESS_STEPS = 1000


def _read_in_place(
    connection: sqlite3.Connection,
    begin: str | None,
    operation: str,
    parameters: Any,
    many: bool,
) -> _Outcome | None:
    """Run a read on the calling thread, or give up (None) once it takes longer than
    `READ_IN_PLACE_MS`; a SELECT stopped this way has changed nothing."""
    deadline = time.perf_counter() + READ_IN_PLACE_MS / 1000
    connection.set_progress_handler(lambda: time.perf_counter() > deadline, _PROGRESS_STEPS)
    try:
        outcome = _execute(connection, begin, (), operation, parameters, many)
    except sqlite3.OperationalError as error:
        if error.sqlite_errorcode & 0xFF == sqlite3.SQLITE_INTERRUPT:
            return None
        raise
    finally:
        connection.set_progress_handler(None, 0)
    assert not isinstance(outcome, _Busy)  # a read's BEGIN (deferred) never waits
    return outcome


def _execute(
    connection: sqlite3.Connection,
    begin: str | None,
    queued: Sequence[_Write],
    operation: str | None,
    parameters: Any,
    many: bool,
) -> _Outcome | _Busy:
    """On the connection's thread: BEGIN if due, the queued writes, then `operation` (or, with
    no operation, COMMIT)."""
    cursor = connection.cursor()
    try:
        if begin == IMMEDIATE:
            if not _begin_immediate(cursor):
                return BUSY
        elif begin is not None:
            cursor.execute(begin)
        if operation is None:
            _commit(connection, cursor, queued)
            return None, [], -1, None
        for write in queued:
            _run_one(cursor, *write)
        _run_one(cursor, operation, parameters, many)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    """A buffered cursor whose every statement is a single call on the connection's thread."""

    __slots__ = ("_arraysize", "_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:
        # No aiosqlite cursor is opened: each statement opens and closes its own on the thread.
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self._arraysize = 1

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    async def _run(self, operation: Any, parameters: Any, *, many: bool) -> None:
        adapted: OneHopConnection = self._adapt_connection  # type: ignore[assignment]
        if adapted.queue_writes and _queueable(operation):
            adapted.queued.append((operation, parameters, many))
            self._description, self._lastrowid = None, None
            self._rowcount = len(parameters) if many else 1
            self._rows = collections.deque()
            return
        outcome = await adapted.hop(operation, parameters, many)
        self._description, rows, self._rowcount, self._lastrowid = outcome
        self._rows = collections.deque(rows)

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        await self._run(operation, parameters, many=False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Sequence[Any]) -> Any:
        await self._run(operation, seq_of_parameters, many=True)

    async def _async_soft_close(self) -> None:
        return None

    def close(self) -> None:
        self._rows.clear()


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    """Defers `BEGIN` to the transaction's first statement (same hop), and skips COMMIT and
    ROLLBACK when SQLite has no transaction open (the pool's reset after a commit)."""

    __slots__ = ("gate", "inline", "pending_begin", "queue_writes", "queued", "writing")
    _cursor_cls = OneHopCursor  # type: ignore[assignment]

    def __init__(self, dbapi: OneHopDBAPI, connection: Any) -> None:
        super().__init__(dbapi, connection)
        #: The writers' gate, while this connection's write transaction holds it.
        self.gate: asyncio.Lock | None = None
        #: The BEGIN statement to run ahead of the next statement, if any.
        self.pending_begin: str | None = None
        #: Until the transaction ends, INSERTs wait in `queued` for the next hop or COMMIT.
        self.queue_writes = False
        self.queued: list[_Write] = []
        #: This transaction's statements run on the event loop's thread (see `run_inline`).
        self.inline = False
        #: The transaction began with BEGIN IMMEDIATE (it holds the write lock).
        self.writing = False

    def begin(self, statement: str) -> None:
        self.pending_begin = statement

    async def hop(
        self, operation: str | None, parameters: Any, many: bool, *, in_place: bool = False
    ) -> _Outcome:
        """One call on the connection's thread: BEGIN if due, the queued writes, `operation`
        (COMMIT when None, on the event loop's thread if `in_place`); waiting on the event
        loop while another writer holds the lock."""
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        async with self._execute_mutex:
            begin, self.pending_begin = self.pending_begin, None
            queued, self.queued = self.queued, []
            if begin is not None:
                self.writing = begin == IMMEDIATE
            if begin == IMMEDIATE and self.gate is None:
                self.gate = await _take_gate(self.dbapi.gates)
            inline = self.inline if operation is not None else in_place
            if (
                self.inline
                and operation is not None
                and not self.writing
                and not queued
                and _is_read(operation)
            ):
                done = _read_in_place(connection._conn, begin, operation, parameters, many)
                if done is not None:
                    return done
                # Too long to run in place: on the connection's thread, in the same transaction.
                begin = None if connection._conn.in_transaction else begin
                inline = False
            wait, deadline = FIRST_WAIT, None
            while True:
                outcome: _Outcome | _Busy
                if inline:
                    outcome = _execute(connection._conn, begin, queued, operation, parameters, many)
                else:
                    outcome = await connection._execute(  # type: ignore[no-untyped-call]
                        lambda: _execute(
                            connection._conn, begin, queued, operation, parameters, many
                        )
                    )
                if not isinstance(outcome, _Busy):
                    return outcome
                now = asyncio.get_running_loop().time()
                deadline = deadline or now + WRITE_LOCK_TIMEOUT
                if now >= deadline:
                    raise sqlite3.OperationalError("database is locked")
                await asyncio.sleep(wait)
                wait = min(wait * 2, LONGEST_WAIT)

    def _idle(self) -> bool:
        if self.pending_begin is not None:
            self.pending_begin = None
            return True
        # Read from the event loop's thread (check_same_thread=False) while no statement runs.
        raw = self._connection._connection
        return raw is None or not raw.in_transaction

    def run_inline(self) -> None:
        """Run this transaction's statements and its COMMIT or ROLLBACK on the event loop's
        thread.

        For a request's transaction on SQLite. A write transaction: once it holds the write
        lock, each trip to the connection's thread handed the event loop to other requests,
        and the lock stayed taken while they ran (several milliseconds under load, for a few
        hundred microseconds of work); run in place, it goes from its first statement to its
        COMMIT without yielding, except to wait for the lock. A read transaction never waits
        (WAL), and most reads take microseconds, less than the trip to the thread costs; a
        read still running after `READ_IN_PLACE_MS` is stopped and run again on the thread,
        so a long one does not hold up the event loop.

        COMMIT runs in place too. On the connection's thread it waited for the interpreter's
        lock while the event loop ran other requests (up to its 5 ms switch interval), and
        the write lock stayed taken all that time: under a write load, a process's writes
        took 3 ms each instead of 2. A COMMIT writes the WAL without syncing it
        (`synchronous=NORMAL`); the commit that takes the WAL past SQLite's auto-checkpoint
        threshold (1,000 pages) also copies it into the database file, a few milliseconds
        once every few thousand writes, on the event loop. A read's COMMIT only ends its
        snapshot."""
        self.inline = True

    def _open_gate(self) -> None:
        gate, self.gate = self.gate, None
        if gate is not None:
            gate.release()

    def commit(self) -> None:
        in_place = self.inline
        self.inline = self.writing = False
        self.queue_writes = False
        try:
            if self.queued:
                try:
                    await_(self.hop(None, None, False, in_place=in_place))
                except Exception as error:
                    self._handle_exception(error)
            elif not self._idle():
                self._end(in_place, "commit")
        finally:
            self._open_gate()

    def rollback(self) -> None:
        in_place = self.inline
        self.inline = self.writing = False
        self.queue_writes = False
        self.queued = []
        try:
            if not self._idle():
                self._end(in_place, "rollback")
        finally:
            self._open_gate()

    def _end(self, in_place: bool, how: str) -> None:
        """COMMIT or ROLLBACK with nothing queued: in place for a request's transaction."""
        if not in_place:
            getattr(super(), how)()
            return
        try:
            getattr(self._connection._connection, how)()
        except Exception as error:
            self._handle_exception(error)

    def close(self) -> None:
        self._open_gate()
        super().close()

    def terminate(self) -> None:
        # An invalidated connection (or one dropped by the garbage collector) never commits
        # or rolls back here: its writers' turn ends now, or the next writer would wait.
        self._open_gate()
        super().terminate()


def _is_read(operation: str) -> bool:
    """A SELECT (or a WITH ... SELECT): stopping it part-way changes nothing."""
    head = operation.lstrip()[:6].upper()
    if head == "SELECT":
        return True
    text = operation.upper()
    return head[:4] == "WITH" and not any(word in text for word in ("INSERT", "UPDATE", "DELETE"))


def _queueable(operation: str) -> bool:
    """An INSERT that returns nothing: what it tells back (one row written) is known."""
    head = operation.lstrip()[:7].upper()
    return head == "INSERT " and "RETURNING" not in operation.upper()


class OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """One per engine (`dbapi()`): it holds the engine's writers' gate, per event loop."""

    def __init__(self, aiosqlite: Any, sqlite: Any) -> None:
        super().__init__(aiosqlite, sqlite)
        self.gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    def connect(self, *arg: Any, **kw: Any) -> OneHopConnection:
        kw["check_same_thread"] = False
        adapted = super().connect(*arg, **kw)
        return OneHopConnection(self, adapted._connection)


def dbapi() -> OneHopDBAPI:
    """The DB-API module to hand to `create_async_engine(module=...)` for SQLite."""
    return OneHopDBAPI(aiosqlite, sqlite3)
