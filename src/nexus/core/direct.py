"""Hot reads on PostgreSQL, sent straight to asyncpg.

A SELECT run through SQLAlchemy costs about 200,000 machine instructions of Python on top of
asyncpg's own 60,000 (a greenlet per call, the compiled-cache lookup, an execution context,
a cursor adapter, a result object). The two reads every API request makes, the API key's
lookup and a record by id, are constants; `execute` compiles such a statement once with the
engine's own dialect and then sends its SQL on the session's asyncpg connection directly:

- the SQL, the order of its `$n` parameters, their bind processors and the result columns'
  processors are all SQLAlchemy's, taken from the compiled statement, so a row holds exactly
  what SQLAlchemy would have returned (tested column type by column type);
- it runs on the connection SQLAlchemy checked out for the session, in the state that
  connection is in: inside the request's transaction once one is begun, or as one of the
  statements sent before the first write (`nexus.core.postgres_driver`). A connection that
  would begin its transaction at its next statement goes the usual way, so that BEGIN is
  sent;
- the engine's `before_cursor_execute` and `after_cursor_execute` listeners hear it, with
  no cursor and no execution context (statement counters and timers work as before);
- rows are named tuples: attribute, index and unpacking, as a SQLAlchemy `Row`.

Only plain SELECTs qualify (no FOR UPDATE, no expanding `IN` parameters); anything else, and
everything on SQLite, runs through `AsyncConnection.execute` unchanged. An error from the
driver is raised as asyncpg raised it; a connection it broke is discarded by the pool when
it is checked in, as after any failed statement.
"""

from __future__ import annotations

import weakref
from collections import namedtuple
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.engine import Dialect
from sqlalchemy.exc import MultipleResultsFound, NoResultFound
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.selectable import Select

from nexus.core import postgres_driver

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
    row: Any
    #: The result columns' types, for their processors.
    types: tuple[Any, ...]
    #: (column index, processor) for the columns that have one; None until the first run
    #: (a processor may depend on the type PostgreSQL reports, as SQLAlchemy's numerics do).
    processors: tuple[tuple[int, Callable[[Any], Any]], ...] | None = None


#: Plans by statement, per dialect (each engine has its own); None: through SQLAlchemy.
_plans: weakref.WeakKeyDictionary[Dialect, weakref.WeakKeyDictionary[Any, _Plan | None]] = (
    weakref.WeakKeyDictionary()
)


def _plan(dialect: Dialect, statement: Any) -> _Plan | None:
    """The statement compiled for `dialect`, or None when it must go through SQLAlchemy."""
    if not isinstance(statement, Select) or statement._for_update_arg is not None:
        return None
    compiled: Any = statement.compile(dialect=dialect)
    if compiled.post_compile_params or compiled.literal_execute_params or compiled.ctes:
        return None
    parameters = []
    for name in compiled.positiontup:
        bind = compiled.binds[name]
        held = _REQUIRED if bind.required else bind.effective_value
        parameters.append((name, held, compiled._bind_processors.get(name)))
    columns = compiled._result_columns
    row = namedtuple("DirectRow", [column.keyname for column in columns], rename=True)  # type: ignore[misc]
    types = tuple(column.type for column in columns)
    return _Plan(compiled.string, tuple(parameters), row, types)


def plan_for(dialect: Dialect, statement: Any) -> _Plan | None:
    plans = _plans.get(dialect)
    if plans is None:
        plans = _plans[dialect] = weakref.WeakKeyDictionary()
    try:
        return plans[statement]
    except KeyError:
        plan = plans[statement] = _plan(dialect, statement)
        return plan


async def _processors(
    dialect: Dialect, plan: _Plan, driver: Any
) -> tuple[tuple[int, Callable[[Any], Any]], ...] | None:
    """The result processors SQLAlchemy would use, given the column types PostgreSQL reports
    for the statement (None if one cannot be made: the statement then goes the usual way)."""
    prepared = await driver.prepare(plan.sql)
    reported = [attribute.type.oid for attribute in prepared.get_attributes()]
    processors = []
    try:
        for index, (type_, oid) in enumerate(zip(plan.types, reported, strict=True)):
            processor = type_._cached_result_processor(dialect, oid)
            if processor is not None:
                processors.append((index, processor))
    except Exception:
        return None
    return tuple(processors)


def _arguments(plan: _Plan, params: dict[str, Any]) -> list[Any]:
    arguments = []
    for name, held, processor in plan.parameters:
        value = params.get(name, held)
        if value is _REQUIRED:
            raise KeyError(f"no value for the bound parameter {name!r}")
        arguments.append(processor(value) if processor is not None else value)
    return arguments


async def execute(
    connection: AsyncConnection, statement: Any, params: dict[str, Any]
) -> RowsResult:
    """Run a SELECT on `connection`: straight to asyncpg when it qualifies (see the module),
    else through SQLAlchemy."""
    sync = connection.sync_connection
    if sync is None or not isinstance(sync.dialect, postgres_driver.Dialect) or sync.invalidated:
        return await connection.execute(statement, params)
    adapted = sync.connection.dbapi_connection
    # Outside a transaction only while reading before the first write; a connection that
    # would send BEGIN with its next statement goes through SQLAlchemy, which sends it.
    if adapted is None or not (adapted.autocommit or adapted._transaction is not None):  # type: ignore[attr-defined]
        return await connection.execute(statement, params)
    plan = plan_for(sync.dialect, statement)
    if plan is None:
        return await connection.execute(statement, params)
    driver = adapted._connection  # type: ignore[attr-defined]
    if plan.processors is None:
        processors = await _processors(sync.dialect, plan, driver)
        if processors is None:
            _plans[sync.dialect][statement] = None
            return await connection.execute(statement, params)
        plan.processors = processors
    arguments = _arguments(plan, params)
    heard = sync._has_events or sync.engine._has_events
    if heard:
        for listener in sync.dispatch.before_cursor_execute:
            listener(sync, None, plan.sql, tuple(arguments), None, False)
    records = await driver.fetch(plan.sql, *arguments)
    if heard:
        for listener in sync.dispatch.after_cursor_execute:
            listener(sync, None, plan.sql, tuple(arguments), None, False)
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
