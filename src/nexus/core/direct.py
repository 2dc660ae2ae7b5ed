"""Hot statements on PostgreSQL, sent straight to asyncpg.

A statement run through SQLAlchemy costs about 200,000 machine instructions of Python on top
of asyncpg's own 60,000 (a greenlet per call, the compiled-cache lookup, an execution
context, a cursor adapter, a result object). The statements every API request makes are
constants: the API key's lookup, a record by id, the duplicate check of a new record, and
the one `WITH … INSERT` that writes a new record with its audit and outbox rows. This module
compiles such a statement once with the engine's own dialect and then sends its SQL on the
session's asyncpg connection directly:

- the SQL, the order of its `$n` parameters, their bind processors and the result columns'
  processors are all SQLAlchemy's, taken from the compiled statement, so a row holds exactly
  what SQLAlchemy would have returned (tested table by table);
- it runs on the connection SQLAlchemy checked out for the session, in the state that
  connection is in: inside the request's transaction once one is begun, or before the first
  write (`nexus.core.postgres_driver`), where only reads and the commit's one statement sent
  `ALONE` may run. A connection that would send BEGIN first goes the usual way, which sends
  it;
- the engine's `before_cursor_execute` and `after_cursor_execute` listeners hear it, with
  no cursor and no execution context (statement counters and timers work as before);
- a driver error is raised as SQLAlchemy raises it (`IntegrityError`, `DataError`, …), and a
  connection it broke is invalidated, as SQLAlchemy would;
- rows are named tuples: attribute, index and unpacking, as a SQLAlchemy `Row`.

Only plain SELECTs (no FOR UPDATE, no data-changing WITH, no expanding `IN` parameters) and
INSERTs without RETURNING qualify; anything else runs through SQLAlchemy unchanged.

On SQLite (NEXUS's driver, `nexus.core.sqlite_driver`) the same SELECTs run as one hop
of the driver, which sends the transaction's BEGIN with them if it is due, in place or on
the connection's thread as for any statement; and `queue_write` puts the new rows of a
request's commit, their INSERTs compiled once per table, in the queue of writes that
COMMIT sends in its one hop.
"""

from __future__ import annotations

import weakref
from collections import namedtuple
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn, Protocol, cast

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import MultipleResultsFound, NoResultFound
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Insert, UpdateBase
from sqlalchemy.sql.selectable import GenerativeSelect
from sqlalchemy.util import await_, greenlet_spawn

from nexus.core import postgres_driver, sqlite_driver

_REQUIRED = object()


class RowsResult(Protocol):
    """What both paths return: the part of SQLAlchemy's `Result` the callers use."""

    def one_or_none(self) -> Any: ...

    def one(self) -> Any: ...

    def all(self) -> Sequence[Any]: ...


class Rows(list[Any]):
    """The rows of a direct read, with `Result`'s ways to take them."""

    def one_or_none(self) -> Any:
        if len(self) > 1:
            raise MultipleResultsFound("Multiple rows were found when one or none was required")
        return self[0] if self else None

    def one(self) -> Any:
        if not self:
            raise NoResultFound("No row was found when one was required")
        return self.one_or_none()

    def all(self) -> list[Any]:
        return list(self)


@dataclass(slots=True)
class _Plan:
    sql: str
    #: Per `$n` parameter: its name, its value when the statement holds it, its processor.
    parameters: tuple[tuple[str, Any, Callable[[Any], Any] | None], ...]
    #: A SELECT (rows to read) or an INSERT (nothing returned).
    reads: bool
    row: Any = None
    #: The result columns' types, for their processors.
    types: tuple[Any, ...] = ()
    #: (column index, processor) for the columns that have one; None until the first run
    #: (a processor may depend on the type PostgreSQL reports, as SQLAlchemy's numerics do).
    processors: tuple[tuple[int, Callable[[Any], Any]], ...] | None = None


#: Plans by statement, per dialect (each engine has its own); None: through SQLAlchemy.
_plans: weakref.WeakKeyDictionary[Dialect, weakref.WeakKeyDictionary[Any, _Plan | None]] = (
    weakref.WeakKeyDictionary()
)


def _qualifies(statement: Any) -> bool | None:
    """True for a plain SELECT, False for an INSERT without RETURNING, None otherwise."""
    if isinstance(statement, GenerativeSelect):
        if statement._for_update_arg is not None:
            return None
        return True
    if isinstance(statement, Insert) and not statement._returning:
        return False
    return None


def _plan(dialect: Dialect, statement: Any) -> _Plan | None:
    """The statement compiled for `dialect`, or None when it must go through SQLAlchemy."""
    reads = _qualifies(statement)
    if reads is None:
        return None
    compiled: Any = statement.compile(dialect=dialect)
    if compiled.post_compile_params or compiled.literal_execute_params:
        return None
    if reads and any(isinstance(cte.element, UpdateBase) for cte in compiled.ctes or ()):
        return None
    parameters = []
    for name in compiled.positiontup:
        bind = compiled.binds[name]
        if bind.callable is not None:
            return None  # a value computed per run: SQLAlchemy computes it
        held = _REQUIRED if bind.required else bind.value
        parameters.append((name, held, compiled._bind_processors.get(name)))
    if not reads:
        return _Plan(compiled.string, tuple(parameters), reads=False, processors=())
    columns = compiled._result_columns
    row = namedtuple("DirectRow", [column.keyname for column in columns], rename=True)  # type: ignore[misc]
    types = tuple(column.type for column in columns)
    return _Plan(compiled.string, tuple(parameters), reads=True, row=row, types=types)


def plan_for(dialect: Dialect, statement: Any) -> _Plan | None:
    plans = _plans.get(dialect)
    if plans is None:
        plans = _plans[dialect] = weakref.WeakKeyDictionary()
    try:
        return plans[statement]
    except KeyError:
        plan = plans[statement] = _plan(dialect, statement)
        return plan


def _result_processors(
    dialect: Dialect, types: Sequence[Any], reported: Sequence[Any]
) -> tuple[tuple[int, Callable[[Any], Any]], ...] | None:
    """The result processors SQLAlchemy would use for columns of `types`, given the column
    types the driver reports (None if one cannot be made)."""
    processors = []
    try:
        for index, (type_, coltype) in enumerate(zip(types, reported, strict=True)):
            processor = type_._cached_result_processor(dialect, coltype)
            if processor is not None:
                processors.append((index, processor))
    except Exception:
        return None
    return tuple(processors)


async def _read_plan(sync: Connection, statement: Any, asyncpg: Any = None) -> _Plan | None:
    """The plan of a SELECT, its result processors made on its first run: from the column
    types PostgreSQL reports for it (`asyncpg`, the driver connection), or none on SQLite,
    whose driver reports none. None when the statement must go through SQLAlchemy."""
    plan = plan_for(sync.dialect, statement)
    if plan is None or not plan.reads:
        return None
    if plan.processors is None:
        if asyncpg is None:
            reported: list[Any] = [None] * len(plan.types)
        else:
            prepared = await asyncpg.prepare(plan.sql)
            reported = [attribute.type.oid for attribute in prepared.get_attributes()]
        processors = _result_processors(sync.dialect, plan.types, reported)
        if processors is None:
            _plans[sync.dialect][statement] = None
            return None
        plan.processors = processors
    return plan


async def _fetch(
    sync: Connection,
    adapted: Any,
    plan: _Plan,
    params: dict[str, Any],
    run: Callable[[str, list[Any]], Awaitable[Sequence[Any]]],
) -> Rows:
    """`run` the plan's SQL with the processed parameters, told to the engine's listeners,
    errors raised as SQLAlchemy raises them."""
    arguments = _arguments(plan, params)
    _heard(sync, "before_cursor_execute", plan.sql, arguments)
    try:
        records = await run(plan.sql, arguments)
    except Exception as error:
        await greenlet_spawn(_raise_as_sqlalchemy, sync, adapted, error, plan.sql, arguments)
        raise  # (not reached: the line above raises)
    _heard(sync, "after_cursor_execute", plan.sql, arguments)
    return _rows(plan, records)


def _arguments(plan: _Plan, params: dict[str, Any]) -> list[Any]:
    arguments = []
    for name, held, processor in plan.parameters:
        value = params.get(name, held)
        if value is _REQUIRED:
            raise KeyError(f"no value for the bound parameter {name!r}")
        arguments.append(processor(value) if processor is not None else value)
    return arguments


def _connections(sync: Connection | None) -> tuple[Connection, Any] | None:
    """The SQLAlchemy connection and its asyncpg adapter, if on NEXUS's PostgreSQL dialect."""
    if sync is None or not isinstance(sync.dialect, postgres_driver.Dialect) or sync.invalidated:
        return None
    adapted = sync.connection.dbapi_connection
    return (sync, adapted) if adapted is not None else None


def _heard(sync: Connection, hook: str, sql: str, arguments: list[Any]) -> None:
    if sync._has_events or sync.engine._has_events:
        for listener in getattr(sync.dispatch, hook):
            listener(sync, None, sql, tuple(arguments), None, False)


def _raise_as_sqlalchemy(
    sync: Connection, adapted: Any, error: Exception, sql: str, arguments: list[Any]
) -> NoReturn:
    """Raise `error` as SQLAlchemy would have: translated by the adapter, then wrapped (and
    the connection invalidated if the error broke it). Runs in SQLAlchemy's greenlet."""
    try:
        adapted._handle_exception(error)
    except Exception as translated:
        sync._handle_dbapi_exception(translated, sql, tuple(arguments), None, None)
    raise error


def _rows(plan: _Plan, records: Sequence[Any]) -> Rows:
    make = plan.row._make
    if not plan.processors:
        return Rows(make(record) for record in records)
    rows = Rows()
    for record in records:
        values = list(record)
        for index, processor in plan.processors:
            values[index] = processor(values[index])
        rows.append(make(values))
    return rows


async def _execute_on_sqlite(
    connection: AsyncConnection, adapted: Any, statement: Any, params: dict[str, Any]
) -> RowsResult:
    """A SELECT as one hop of NEXUS's SQLite driver (`OneHopConnection.hop`: BEGIN if due,
    in place or on the connection's thread), past SQLAlchemy's execution."""
    sync = connection.sync_connection
    if sync is None or sync.invalidated or not sync.in_transaction():
        return await connection.execute(statement, params)
    plan = await _read_plan(sync, statement)
    if plan is None:
        return await connection.execute(statement, params)

    async def hop(sql: str, arguments: list[Any]) -> Sequence[Any]:
        outcome = await adapted.hop(sql, tuple(arguments), False)
        return cast(Sequence[Any], outcome[1])

    return await _fetch(sync, adapted, plan, params, hop)


async def execute(
    connection: AsyncConnection, statement: Any, params: dict[str, Any]
) -> RowsResult:
    """Run a SELECT on `connection`: straight to the driver when it qualifies (see the
    module), else through SQLAlchemy."""
    local = connection.sync_connection
    if local is not None and not local.invalidated:
        adapted = local.connection.dbapi_connection
        if isinstance(adapted, sqlite_driver.OneHopConnection):
            return await _execute_on_sqlite(connection, adapted, statement, params)
    found = _connections(connection.sync_connection)
    # Outside a transaction only while reading before the first write; a connection that
    # would send BEGIN with its next statement goes through SQLAlchemy, which sends it.
    if found is None or not (found[1].autocommit or found[1]._transaction is not None):
        return await connection.execute(statement, params)
    sync, adapted = found
    driver = adapted._connection
    plan = await _read_plan(sync, statement, driver)
    if plan is None:
        return await connection.execute(statement, params)

    async def fetch(sql: str, arguments: list[Any]) -> Sequence[Any]:
        return cast(Sequence[Any], await driver.fetch(sql, *arguments))

    return await _fetch(sync, adapted, plan, params, fetch)


def write(connection: Connection, statement: Any, params: dict[str, Any], *, alone: bool) -> bool:
    """Run an INSERT straight to asyncpg, from SQLAlchemy's greenlet (a flush), when it
    qualifies; False when it must go through SQLAlchemy instead.

    `alone`: the statement is the commit's only write (`postgres_driver.ALONE`): on a
    connection that has not begun a transaction it runs without one."""
    found = _connections(connection)
    if found is None:
        return False
    sync, adapted = found
    plan = plan_for(sync.dialect, statement)
    if plan is None or plan.reads:
        return False
    if adapted.autocommit:
        if not alone:
            return False  # SQLAlchemy's path sends BEGIN first
        postgres_driver.note_alone(sync.info)
    elif adapted._transaction is None:
        return False
    arguments = _arguments(plan, params)
    _heard(sync, "before_cursor_execute", plan.sql, arguments)
    try:
        await_(adapted._connection.execute(plan.sql, *arguments))
    except Exception as error:
        _raise_as_sqlalchemy(sync, adapted, error, plan.sql, arguments)
    _heard(sync, "after_cursor_execute", plan.sql, arguments)
    return True


def queue_write(connection: Connection, statement: Any, rows: list[dict[str, Any]]) -> bool:
    """On SQLite, put an INSERT of `rows` in the queue of writes that a request's COMMIT
    sends in its one hop (`sqlite_driver.OneHopConnection.queue_writes`), without
    SQLAlchemy's execution; False when it must go through SQLAlchemy instead (no queue
    open, or a statement that does not qualify). A failing row fails the COMMIT, which
    raises it as SQLAlchemy does, as for any queued write."""
    adapted = None if connection.invalidated else connection.connection.dbapi_connection
    if not isinstance(adapted, sqlite_driver.OneHopConnection) or not adapted.queue_writes:
        return False
    plan = plan_for(connection.dialect, statement)
    if plan is None or plan.reads or not rows:
        return False
    many = len(rows) > 1
    arguments = [tuple(_arguments(plan, row)) for row in rows]
    sent: Any = arguments if many else arguments[0]
    if connection._has_events or connection.engine._has_events:
        for listener in connection.dispatch.before_cursor_execute:
            listener(connection, None, plan.sql, sent, None, many)
    adapted.queued.append((plan.sql, sent, many))
    if connection._has_events or connection.engine._has_events:
        for listener in connection.dispatch.after_cursor_execute:
            listener(connection, None, plan.sql, sent, None, many)
    return True
