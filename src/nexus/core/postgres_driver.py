"""PostgreSQL through asyncpg, with a request's statements sent without BEGIN until it writes.

A request's session (`nexus.core.db.BEGIN_ON_WRITE`) runs its statements on a connection in
autocommit mode until one of them writes. In PostgreSQL's READ COMMITTED, each statement of a
transaction reads its own snapshot anyway, so a SELECT sees the same rows with or without a
transaction around it, and takes no lock a transaction would keep. The first statement that
needs a transaction (any INSERT, UPDATE or DELETE, a SELECT that locks rows, streams or has a
data-changing WITH, any text statement not marked `READS_ONLY`) turns the connection back
before it runs: the driver sends BEGIN, and the request's writes commit, or roll back,
together. A read (a GET) thus saves the round trips of BEGIN and COMMIT, two of its four.

A commit whose only write is one statement (`nexus.core.db.commit` marks it `ALONE`: a contact
created with its audit and outbox rows in one `WITH … INSERT`) sends it without BEGIN: one
statement is atomic by itself. A write after it on the same connection would not be part of
it, so it is refused (`WroteAlone`) rather than committed on its own.

A connection going back to the pool leaves autocommit mode. This is SQLAlchemy's asyncpg
dialect with that one decision added before each statement; `nexus.core.db.make_engine`
names it for `postgresql+asyncpg` URLs.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.engine.interfaces import DBAPICursor, ExecutionContext
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.selectable import GenerativeSelect

#: The driver name `make_engine` puts in a `postgresql+asyncpg` URL.
DRIVER = "nexus_asyncpg"
#: Execution option of a text statement that only reads (it needs no transaction).
READS_ONLY = "nexus_reads_only"
#: Execution option of a commit's only write: it runs without BEGIN if none was sent.
ALONE = "nexus_alone"
#: `Connection.info` key: a statement ran `ALONE` (until the connection is back in the pool).
_WROTE_ALONE = "nexus_wrote_alone"


class WroteAlone(RuntimeError):
    """A write after the statement that was to be its transaction's only one."""


def needs_transaction(context: DefaultExecutionContext | None) -> bool:
    """Whether a statement must run in a transaction: all but a plain SELECT (without FOR
    UPDATE, streaming or a data-changing WITH) and the text statements marked `READS_ONLY`."""
    if context is None or context.isinsert or context.isupdate or context.isdelete:
        return True
    options = context.execution_options
    if options.get("stream_results"):
        return True
    compiled = context.compiled
    statement = getattr(compiled, "statement", None)
    if isinstance(statement, GenerativeSelect):
        if statement._for_update_arg is not None:
            return True
        ctes = getattr(compiled, "ctes", None)
        return any(isinstance(cte.element, UpdateBase) for cte in ctes or ())
    return not options.get(READS_ONLY, False)


def _begin_if_needed(cursor: DBAPICursor, context: ExecutionContext | None, many: bool) -> None:
    driver = cursor._adapt_connection  # type: ignore[attr-defined]  # (the cursor's connection)
    if driver.autocommit and (many or needs_transaction(context)):  # type: ignore[arg-type]
        info = context.root_connection.info if context is not None else {}
        refuse_after_alone(info)
        if context is not None and context.execution_options.get(ALONE):
            info[_WROTE_ALONE] = True
            return
        driver.autocommit = False  # the driver sends BEGIN before this statement


def refuse_after_alone(info: dict[Any, Any]) -> None:
    """`WroteAlone` if a statement ran `ALONE` on the connection (its `Connection.info`)."""
    if info.get(_WROTE_ALONE):
        raise WroteAlone("a write after the statement that was to be the commit's only one")


def note_alone(info: dict[Any, Any]) -> None:
    """A statement is about to run `ALONE` on the connection (its `Connection.info`)."""
    refuse_after_alone(info)
    info[_WROTE_ALONE] = True


class Dialect(PGDialect_asyncpg):
    """asyncpg, beginning a reading connection's transaction before its first write."""

    supports_statement_cache = True

    def do_execute(
        self,
        cursor: DBAPICursor,
        statement: str,
        parameters: Any,
        context: ExecutionContext | None = None,
    ) -> None:
        _begin_if_needed(cursor, context, many=False)
        super().do_execute(cursor, statement, parameters, context)  # type: ignore[no-untyped-call]

    def do_execute_no_params(
        self, cursor: DBAPICursor, statement: str, context: ExecutionContext | None = None
    ) -> None:
        _begin_if_needed(cursor, context, many=False)
        super().do_execute_no_params(cursor, statement, context)  # type: ignore[no-untyped-call]

    def do_executemany(
        self,
        cursor: DBAPICursor,
        statement: str,
        parameters: Any,
        context: ExecutionContext | None = None,
    ) -> None:
        _begin_if_needed(cursor, context, many=True)
        super().do_executemany(cursor, statement, parameters, context)  # type: ignore[no-untyped-call]


registry.register(f"postgresql.{DRIVER}", __name__, "Dialect")


def read_without_transaction(connection: Connection) -> None:
    """Run the connection's statements without BEGIN until one needs a transaction."""
    connection.connection.dbapi_connection.autocommit = True  # type: ignore[union-attr]


def without_transaction(connection: Connection) -> bool:
    """The connection runs statements without BEGIN (a reading request's, so far)."""
    return bool(connection.connection.dbapi_connection.autocommit)  # type: ignore[union-attr]


def _leave_autocommit(dbapi_connection: Any, record: Any) -> None:
    record.info.pop(_WROTE_ALONE, None)
    if dbapi_connection is not None and dbapi_connection.autocommit:
        dbapi_connection.autocommit = False


def listen(engine: Engine) -> None:
    """A connection going back to the engine's pool begins its next statement with BEGIN."""
    event.listen(engine.pool, "checkin", _leave_autocommit)
