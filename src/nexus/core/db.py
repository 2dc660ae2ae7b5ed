"""Database engines, sessions, the declarative base and the tenancy guard.

One `Database` per process. A request, job or command opens one session (one transaction) and
commits it at its edge; services only flush. Every session knows the `Database` it came from
(`database_of`), so a security write that must survive a refused request can open its own.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import (
    Boolean,
    ColumnDefault,
    ForeignKey,
    ForeignKeyConstraint,
    MetaData,
    String,
    Table,
    bindparam,
    event,
    insert,
    inspect,
    text,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Mapper,
    Session,
    SessionTransaction,
    UOWTransaction,
    declared_attr,
    mapped_column,
)
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import FunctionElement

from nexus.core import direct, postgres_driver, sqlite_driver, statement_cache
from nexus.core.errors import TenantContextMissing
from nexus.core.ids import new_id
from nexus.core.security import Keyring

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class TenantScoped:
    """Mixin for every tenant-owned table: primary key `(tenant_id, id)`.

    Foreign keys between tenant tables must include `tenant_id` (use `tenant_foreign_key`), so
    the database itself refuses a row that points at another tenant's row.
    """

    @declared_attr
    def tenant_id(cls) -> Mapped[uuid.UUID]:
        return mapped_column(
            ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True, sort_order=-20
        )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id, sort_order=-10)


def tenant_foreign_key(
    columns: list[str], table: str, *, ondelete: str | None = None
) -> ForeignKeyConstraint:
    """`(tenant_id, *columns)` → `table(tenant_id, id)`: a reference that cannot cross tenants."""
    return ForeignKeyConstraint(
        ["tenant_id", *columns], [f"{table}.tenant_id", f"{table}.id"], ondelete=ondelete
    )


def current_tenant(session: Session | AsyncSession) -> uuid.UUID | None:
    tenant: uuid.UUID | None = session.info.get("tenant_id")
    return tenant


async def bind_tenant(
    session: AsyncSession, tenant_id: uuid.UUID | None, *, set_by_next_lookup: bool = False
) -> None:
    """Scope the session to one tenant (or to none), and tell the database transaction too
    (once: binding the tenant the transaction already carries costs no round trip).

    `set_by_next_lookup`: the next statement is a credential lookup with a
    `set_transaction_tenant` column, which tells the transaction itself."""
    session.info["tenant_id"] = tenant_id
    if not session.in_transaction() or not is_postgresql(session):
        session.info[_TENANT_BY_LOOKUP] = set_by_next_lookup
        return
    if set_by_next_lookup:
        return
    transaction = session.sync_session.get_transaction()
    if session.info.get(_TRANSACTION_TENANT) == (id(transaction), tenant_id):
        return
    await session.run_sync(lambda s: _set_transaction_tenant(s.connection(), tenant_id))
    session.info[_TRANSACTION_TENANT] = (id(transaction), tenant_id)


class set_transaction_tenant(FunctionElement[str]):
    """A column for a credential lookup: on PostgreSQL it sets the transaction's tenant to the
    row's tenant id as the row is read, sparing the `set_config` round trip that binding the
    tenant would cost next; NULL on SQLite. Call `tenant_set_by_lookup` with the tenant read."""

    type = String()
    inherit_cache = True
    name = "set_transaction_tenant"


#: The parameter of a lookup with a `set_transaction_tenant` column: whether the setting is
#: the transaction's (true) or, for statements run without one, the connection's (false).
TENANT_LOCAL = "nexus_tenant_local"


@compiles(set_transaction_tenant)
def _no_transaction_tenant(
    element: set_transaction_tenant, compiler: SQLCompiler, **kw: Any
) -> str:
    return "NULL"


@compiles(set_transaction_tenant, "postgresql")
def _pg_transaction_tenant(
    element: set_transaction_tenant, compiler: SQLCompiler, **kw: Any
) -> str:
    tenant = compiler.process(element.clauses, **kw)
    local = compiler.process(bindparam(TENANT_LOCAL, type_=Boolean()), **kw)
    return f"set_config('app.tenant_id', coalesce(CAST({tenant} AS TEXT), ''), {local})"


def lookup_parameters(connection: AsyncConnection, parameters: dict[str, Any]) -> dict[str, Any]:
    """`parameters` with `TENANT_LOCAL` for a lookup with a `set_transaction_tenant` column,
    to run on `connection` (the session's)."""
    if connection.dialect.name != "postgresql":
        return parameters
    sync = connection.sync_connection
    assert sync is not None
    return {**parameters, TENANT_LOCAL: not postgres_driver.without_transaction(sync)}


def tenant_set_by_lookup(session: AsyncSession, tenant_id: uuid.UUID | None) -> None:
    """Note that a lookup with a `set_transaction_tenant` column has just set `tenant_id` on
    the session's transaction (so `bind_tenant` of that tenant costs nothing)."""
    if session.in_transaction() and is_postgresql(session):
        transaction = session.sync_session.get_transaction()
        session.info[_TRANSACTION_TENANT] = (id(transaction), tenant_id)


#: `session.info` flag of a request's session: on SQLite its transaction runs on the event
#: loop's thread up to COMMIT (`sqlite_driver.OneHopConnection.run_inline`).
INLINE = "inline"
#: `session.info` flag of a request's session: on PostgreSQL its statements run without BEGIN
#: until the first that writes, which begins the transaction; a commit whose only write is one
#: statement sends it alone (see `nexus.core.postgres_driver`).
BEGIN_ON_WRITE = "begin_on_write"
#: `session.info` flag: the session is flushing for its commit (`commit`).
_COMMITTING = "committing"
#: The transaction about to begin gets its tenant from its first statement, a lookup.
_TENANT_BY_LOOKUP = "tenant_by_lookup"
#: (the session transaction's id, the tenant set on it), kept in `session.info`. (A savepoint
#: rolled back would undo a setting made inside it; NEXUS opens none.)
_TRANSACTION_TENANT = "transaction_tenant"


def is_postgresql(session: AsyncSession | Session) -> bool:
    """The session's database is PostgreSQL (for the few statements that differ by engine)."""
    return session.bind is not None and session.bind.dialect.name == "postgresql"


def _set_transaction_tenant(connection: Connection, tenant_id: uuid.UUID | None) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(
            text("SELECT set_config('app.tenant_id', :tenant, :local)"),
            {
                "tenant": str(tenant_id) if tenant_id else "",
                "local": not postgres_driver.without_transaction(connection),
            },
            execution_options={postgres_driver.READS_ONLY: True},
        )


#: Append-only tables whose new rows skip the unit of work (`append_only`).
_APPEND_ONLY: set[type] = set()


def append_only(model: type[_Row]) -> type[_Row]:
    """Class decorator: new rows of `model` (an append-only log, such as the audit log or
    the outbox) are written by a plain multi-row INSERT when the session flushes, at the
    moment the unit of work would have written them, but without its per-object work. On
    PostgreSQL the rows of several such tables go in one statement (INSERTs in a WITH). Their
    tables must have no foreign key to rows written in the same flush."""
    _APPEND_ONLY.add(model)
    return model


_APPENDED = "appended_rows"


def add_written_once(session: AsyncSession, row: _Row) -> _Row:
    """Add a new row that this transaction will not change again (a contact just created):
    it is written with the append-only rows when the session flushes (on PostgreSQL in their
    one statement, so the audit event, the outbox event and the row cost one round trip),
    without the unit of work's per-object work. It gets its defaults now, is not kept in the
    session afterwards, and its table must have no foreign key to rows of the same flush."""
    with_defaults(row)
    session.add(row)
    # Held by id with the row itself, so no other object can take its id meanwhile.
    session.info.setdefault(_APPENDED, {})[id(row)] = row
    return row


@event.listens_for(Session, "before_flush")
def _append_rows(session: Session, flush_context: UOWTransaction, instances: Any) -> None:
    once = session.info.pop(_APPENDED, None) or ()
    pending = [obj for obj in session.new if type(obj) in _APPEND_ONLY or id(obj) in once]
    if not pending:
        return
    by_table: dict[Table, list[dict[str, Any]]] = {}
    for obj in pending:
        if isinstance(obj, TenantScoped):
            _check_tenant_of_new(session, obj)
        session.expunge(obj)
        with_defaults(obj)
        mapper = inspect(obj).mapper
        by_table.setdefault(mapper.local_table, []).append(  # type: ignore[arg-type]
            {name: getattr(obj, key) for key, name in _column_names(mapper)}
        )
    tables = list(by_table.items())
    connection = session.connection()
    if connection.dialect.name == "postgresql" and len(tables) > 1:
        # The commit's only write, with no transaction begun yet: it runs alone, atomic as
        # any one statement is, without BEGIN and COMMIT.
        alone = (
            session.info.get(_COMMITTING, False)
            and postgres_driver.without_transaction(connection)
            and not (session.new or session.dirty or session.deleted)
        )
        options = {postgres_driver.ALONE: True} if alone else {}
        if all(len(rows) == 1 for _, rows in tables):
            # The usual case (one audit event, one outbox event): a statement made once per
            # set of tables, so SQLAlchemy compiles it once.
            shape = tuple(table for table, _ in tables)
            statement = _one_row_each(shape)
            values = {
                f"a{n}_{name}": value
                for n, (_, rows) in enumerate(tables)
                for name, value in rows[0].items()
            }
            if not direct.write(connection, statement, values, alone=alone):
                connection.execute(statement, values, execution_options=options)
            return
        (last, last_rows), earlier = tables[-1], tables[:-1]
        statement = insert(last).values(last_rows)
        for n, (table, rows) in enumerate(earlier):
            statement = statement.add_cte(insert(table).values(rows).cte(f"appended_{n}"))
        connection.execute(statement, execution_options=options)
        return
    for table, rows in tables:
        statement = _every_column(table)
        if not direct.queue_write(connection, statement, rows):
            connection.execute(insert(table), rows)


@functools.cache
def _every_column(table: Table) -> Any:
    """An INSERT of every column of `table`, each bound by its name."""
    return insert(table).values({c.name: bindparam(c.name) for c in table.columns})


@functools.cache
def _one_row_each(tables: tuple[Table, ...]) -> Any:
    """One INSERT per table, the earlier ones in a WITH, each row's values bound as
    `a<n>_<column>`. (A multi-row VALUES has no cache key, so SQLAlchemy would compile the
    statement on every flush.)"""

    def one_row(n: int, table: Table) -> Any:
        return insert(table).values({c.name: bindparam(f"a{n}_{c.name}") for c in table.columns})

    *earlier, last = tables
    statement = one_row(len(earlier), last)
    for n, table in enumerate(earlier):
        statement = statement.add_cte(one_row(n, table).cte(f"appended_{n}"))
    return statement


@functools.cache
def _column_names(mapper: Mapper[Any]) -> tuple[tuple[str, str], ...]:
    """(attribute, column name) of a mapper's columns."""
    return tuple((mapper.get_property_by_column(c).key, c.name) for c in mapper.columns)


@event.listens_for(Session, "before_flush")
def _stamp_tenant(session: Session, flush_context: UOWTransaction, instances: Any) -> None:
    for obj in session.new:
        if isinstance(obj, TenantScoped):
            _check_tenant_of_new(session, obj)


def _check_tenant_of_new(session: Session, obj: TenantScoped) -> None:
    """A new row gets the bound tenant; a row for another tenant, or none bound, is refused."""
    tenant = current_tenant(session)
    if tenant is None:
        raise TenantContextMissing()
    if obj.tenant_id is None:
        obj.tenant_id = tenant
    elif obj.tenant_id != tenant:
        raise TenantContextMissing("a row for another tenant was added in this context")


@event.listens_for(Session, "after_begin")
def _tenant_on_transaction(
    session: Session, transaction: SessionTransaction, connection: Connection
) -> None:
    if session.info.get(INLINE):
        driver = connection.connection.dbapi_connection
        if isinstance(driver, sqlite_driver.OneHopConnection):
            driver.run_inline()
    if session.info.get(BEGIN_ON_WRITE) and connection.dialect.name == "postgresql":
        postgres_driver.read_without_transaction(connection)
    tenant = current_tenant(session)
    if session.info.pop(_TENANT_BY_LOOKUP, False):
        session.info[_TRANSACTION_TENANT] = (id(transaction), None)
        return
    if tenant is not None:
        _set_transaction_tenant(connection, tenant)
    session.info[_TRANSACTION_TENANT] = (id(transaction), tenant)


def _sqlite_engine(url: str, *, immediate: bool) -> AsyncEngine:
    engine = create_async_engine(url, connect_args={"timeout": 30}, module=sqlite_driver.dbapi())
    statement_cache.install(engine)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, record: Any) -> None:
        # Take BEGIN away from the driver (it breaks SAVEPOINT and BEGIN IMMEDIATE).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={sqlite_driver.BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # Writers take the write lock up front, so a read that later writes cannot hit
        # SQLITE_BUSY half-way; readers stay deferred and never block anyone in WAL mode.
        statement = sqlite_driver.IMMEDIATE if immediate else "BEGIN"
        driver = connection.connection.dbapi_connection
        if isinstance(driver, sqlite_driver.OneHopConnection):
            driver.begin(statement)  # sent with the transaction's first statement
        else:
            connection.exec_driver_sql(statement)

    return engine


def make_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """An engine for writing (SQLite: BEGIN IMMEDIATE, WAL, foreign keys), also for migrations."""
    if url.startswith("sqlite"):
        return _sqlite_engine(url, immediate=True)
    # No pre-ping: it costs a round trip per request; recycled connections and the caller's
    # retry cover a database restart.
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgresql+asyncpg"):
        parsed = parsed.set(drivername=f"postgresql+{postgres_driver.DRIVER}")
    engine = create_async_engine(
        parsed, pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800
    )
    postgres_driver.listen(engine.sync_engine)
    statement_cache.install(engine)
    return engine


class Database:
    """The engines and session factories of one database."""

    def __init__(self, url: str, *, keyring: Keyring, pool_size: int = 10) -> None:
        # (pool_size is per engine and per process)
        self.url = url
        #: The process's keys; services reach it through `database_of(session).keyring`.
        self.keyring = keyring
        self.is_sqlite = url.startswith("sqlite")
        self.engine = make_engine(url, pool_size=pool_size)
        self.read_engine = _sqlite_engine(url, immediate=False) if self.is_sqlite else self.engine
        info = {"database": self}
        self._writer = async_sessionmaker(self.engine, expire_on_commit=False, info=info)
        self._reader = async_sessionmaker(self.read_engine, expire_on_commit=False, info=info)

    def session(self, *, write: bool = True) -> AsyncSession:
        """A new session; `write=False` is for requests that only read (SQLite: no write lock)."""
        factory = self._writer if write else self._reader
        session = factory()
        session.info.update({"database": self, "tenant_id": None})
        return session

    @asynccontextmanager
    async def transaction(self, tenant_id: uuid.UUID | None = None) -> AsyncIterator[AsyncSession]:
        """One committed unit of work, for jobs, commands and security writes."""
        async with self.session() as session:
            session.info["tenant_id"] = tenant_id
            async with session.begin():
                yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()


async def commit(session: AsyncSession) -> None:
    """Commit the session. On SQLite the INSERTs the commit's flush sends travel with COMMIT in
    one call on the connection's thread (see `nexus.core.sqlite_driver`), so the write lock is
    released sooner; errors are raised here, as the flush inside `commit()` raises them."""
    database = database_of(session)
    # (A read session's commit writes nothing: only a writer's commit has INSERTs to carry.)
    if database.is_sqlite and session.bind is database.engine and session.in_transaction():
        connection = await session.connection()
        raw = await connection.get_raw_connection()
        driver = raw.dbapi_connection
        if isinstance(driver, sqlite_driver.OneHopConnection):
            driver.queue_writes = True
    session.info[_COMMITTING] = True
    try:
        await session.commit()
    finally:
        session.info.pop(_COMMITTING, None)


_Row = TypeVar("_Row")


def with_defaults(row: _Row) -> _Row:
    """Give a new row its Python-side column defaults now (id, version, timestamps) instead of
    at its INSERT, so it can be described and referred to without a flush: the INSERT then
    waits for the commit (on SQLite it travels with COMMIT)."""
    state = inspect(row)
    for key, default in _python_defaults(state.mapper):
        if key in state.dict:
            continue
        if default.is_scalar:
            setattr(row, key, default.arg)
        else:
            setattr(row, key, default.arg(None))  # type: ignore[operator]
    return row


@functools.cache
def _python_defaults(mapper: Mapper[Any]) -> tuple[tuple[str, ColumnDefault], ...]:
    """(attribute, default) of a mapper's columns with a Python-side scalar or callable default."""
    found = []
    for column in mapper.columns:
        default = column.default
        if isinstance(default, ColumnDefault) and (default.is_scalar or default.is_callable):
            found.append((mapper.get_property_by_column(column).key, default))
    return tuple(found)


def keep_loaded(session: AsyncSession, *objects: object) -> None:
    """Hold strong references to `objects` for the session's life, so reading them again
    (`session.get`) is answered from the identity map instead of the database."""
    kept: list[object] = session.info.setdefault("kept", [])
    kept.extend(obj for obj in objects if obj is not None)


_NOTED = "noted_by_lookup"


def note_for_request(session: AsyncSession, name: str, value: Any) -> None:
    """Keep `value`, read by the caller's lookup, for the rest of the request: the request's
    session holds it even when the lookup ran in a session of its own (SQLite)."""
    session.info.setdefault(_NOTED, {})[name] = value


def noted_for_request(session: AsyncSession, name: str) -> Any:
    """What the caller's lookup noted under `name`, or None."""
    return session.info.get(_NOTED, {}).get(name)


def carry_noted(source: AsyncSession, target: AsyncSession) -> None:
    """Copy what the lookup noted on `source` to `target`, the request's session."""
    target.info.setdefault(_NOTED, {}).update(source.info.get(_NOTED, {}))


def dialect_insert(session: AsyncSession, table: Any) -> Any:
    """The dialect's INSERT (with `on_conflict_do_nothing/update`), same call on both engines."""
    if is_postgresql(session):
        return postgresql_insert(table)
    return sqlite_insert(table)


def database_of(session: AsyncSession | Session) -> Database:
    database: Database = session.info["database"]
    return database


# The tenancy guard (its session hooks, `across_tenants`, `read_scoped`) lives in its own
# module; importing it here registers its hooks wherever sessions are made.
from nexus.core import guard as _guard  # noqa: E402, F401
