"""The tenancy guard: every ORM statement that reaches a tenant table is scoped to the
session's tenant, or refused when none is bound (it fails closed); `read_scoped` does the same
for a read sent past the ORM; `across_tenants` lifts the guard on purpose. See docs/kernel.md."""

from __future__ import annotations

import weakref
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, cast

from sqlalchemy import Table, bindparam, event, inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria
from sqlalchemy.sql import visitors
from sqlalchemy.sql.expression import ColumnClause, TableClause
from sqlalchemy.sql.selectable import CompoundSelect

from nexus.core import direct
from nexus.core.db import Base, TenantScoped, current_tenant
from nexus.core.errors import TenantContextMissing


@contextmanager
def across_tenants(session: AsyncSession | Session) -> Iterator[None]:
    """Let tenant tables be read across tenants inside this block, on purpose and greppable:
    for platform views (an operator's tenant list, a user's own memberships)."""
    previous = session.info.get("across_tenants", False)
    session.info["across_tenants"] = True
    try:
        yield
    finally:
        session.info["across_tenants"] = previous


_tenant_tables_cache: tuple[int, frozenset[str]] = (-1, frozenset())


def _tenant_table_names() -> frozenset[str]:
    """Names of the tables of TenantScoped models, recomputed only when a model is mapped."""
    global _tenant_tables_cache
    mappers = Base.registry.mappers
    if _tenant_tables_cache[0] != len(mappers):
        names = frozenset(
            mapper.local_table.name
            for mapper in mappers
            if issubclass(mapper.class_, TenantScoped) and isinstance(mapper.local_table, Table)
        )
        _tenant_tables_cache = (len(mappers), names)
        _scoped_statements.clear()
    return _tenant_tables_cache[1]


#: The guard's verdicts on a statement: it reaches no tenant table; it is an ORM statement
#: (one naming a mapped class, which the guard's criteria scope); it reaches tenant tables
#: only as `Table`s or their columns, which the criteria cannot scope.
_NO_TENANT_TABLE, _THROUGH_MODELS, _PAST_THE_ORM = 0, 1, 2


def _tenant_reach(state: ORMExecuteState) -> int:
    """Whether and how the statement reaches a tenant table: as an entity or a column's
    table, in `select_from`, a join, a subquery or an EXISTS. (Table names are unique in the
    metadata; one walk, no ORM introspection.)"""
    statement = state.statement
    known = _scoped_statements.get(statement)
    if known is None:
        known = _reach(statement)
        _scoped_statements[statement] = known
    return known


#: The guard's verdict per statement object: statements built once at import (the caller
#: lookups) are walked once.
_scoped_statements: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()


def _reach(statement: Any) -> int:
    if not _tenant_tables_in(statement):
        return _NO_TENANT_TABLE
    if statement._propagate_attrs.get("compile_state_plugin") != "orm":
        return _PAST_THE_ORM  # only Tables and their columns: no entity for the criteria
    return _THROUGH_MODELS


@event.listens_for(Session, "do_orm_execute")
def _scope_to_tenant(state: ORMExecuteState) -> None:
    """Fail closed: a tenant table touched with no tenant in context raises; otherwise scope it."""
    if not (state.is_select or state.is_update or state.is_delete):
        return
    reach = _tenant_reach(state)
    if reach == _NO_TENANT_TABLE or state.session.info.get("across_tenants"):
        return
    tenant = current_tenant(state.session)
    if tenant is None:
        raise TenantContextMissing()
    if reach == _PAST_THE_ORM:
        raise TenantContextMissing(
            "a tenant table reached as a Table, not through its model, cannot be scoped "
            "to the tenant: use the model's attributes (or across_tenants on purpose)"
        )
    state.statement = _guarded(state.statement)
    parameters = state.parameters
    if isinstance(parameters, Mapping) or parameters is None:
        state.parameters = {**(parameters or {}), TENANT_PARAMETER: tenant}
    else:
        # A list of rows: an ORM bulk UPDATE by primary key. SQLAlchemy matches each row by
        # the primary key it names, (tenant_id, id), and applies no criteria to it.
        if any(row.get("tenant_id") != tenant for row in parameters):
            raise TenantContextMissing("a row of a bulk UPDATE names another tenant, or none")
        state.parameters = [{**row, TENANT_PARAMETER: tenant} for row in parameters]


#: The bound parameter the guard's criteria compare `tenant_id` with; the guard passes the
#: tenant's id in it on every run. One guarded statement serves every tenant: SQLAlchemy works
#: out its cache key once, and the tenant is an ordinary parameter of the cached compilation.
TENANT_PARAMETER = "nexus_tenant_scope"
_TENANT_CRITERIA = with_loader_criteria(
    TenantScoped,
    lambda cls: cls.tenant_id == bindparam("nexus_tenant_scope"),
    include_aliases=True,
)

#: Per statement object, its guarded copy: a statement built once (at import) and run again
#: gets the same copy, whose cache key SQLAlchemy then works out only once.
_guarded_statements: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def _guarded(statement: Any) -> Any:
    guarded = _guarded_statements.get(statement)
    if guarded is None:
        guarded = _guarded_statements[statement] = statement.options(_TENANT_CRITERIA)
    return guarded


#: Per statement object, its copy with the tenant criterion that `read_scoped` adds.
_scoped_reads: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


async def read_scoped(
    session: AsyncSession, model: type[TenantScoped], statement: Any, params: dict[str, Any]
) -> Any:
    """Run a SELECT (or a UNION of SELECTs) of columns of `model`'s table on the session's
    connection, past the ORM:
    plain rows, no mapped objects, none of the ORM's per-run work (a tenth of a read by id);
    on PostgreSQL straight to the driver (`nexus.core.direct`).

    The guard does not see a statement sent on the connection, so this adds the guard's
    criterion itself, `tenant_id = :nexus_tenant_scope` on `model`'s table, and passes the
    bound tenant. It fails closed as the guard does: with no tenant bound, or for a statement
    that reaches a tenant table other than `model`'s. Pending changes are flushed first."""
    tenant = current_tenant(session)
    if tenant is None:
        raise TenantContextMissing()
    scoped = _scoped_reads.get(statement)
    if scoped is None:
        table = inspect(model).local_table.name
        reached = _tenant_tables_in(statement)
        if reached != {table}:
            raise TenantContextMissing(f"read_scoped reads {table} alone, not {sorted(reached)}")
        scoped = _with_tenant_criterion(statement, model)
        _scoped_reads[statement] = scoped
    if session.new or session.dirty or session.deleted:
        await session.flush()
    connection = await session.connection()
    return await direct.execute(connection, scoped, {**params, TENANT_PARAMETER: tenant})


def _with_tenant_criterion(statement: Any, model: type[TenantScoped]) -> Any:
    """`statement` with `tenant_id = :nexus_tenant_scope` on `model`'s table in its WHERE, or
    in each SELECT's of a UNION."""
    if isinstance(statement, CompoundSelect):
        scoped = statement._generate()
        scoped.selects = [_with_tenant_criterion(part, model) for part in statement.selects]
        return scoped
    return statement.where(model.tenant_id == bindparam(TENANT_PARAMETER))


def _tenant_tables_in(statement: Any) -> set[str]:
    """Names of the tenant tables the statement reaches anywhere (one walk)."""
    names = _tenant_table_names()
    found: set[str] = set()
    for element in visitors.iterate(cast(visitors.ExternallyTraversible, statement)):
        table = element if isinstance(element, TableClause) else None
        if isinstance(element, ColumnClause) and isinstance(element.table, TableClause):
            table = element.table
        if table is not None and table.name in names:
            found.add(table.name)
    return found
