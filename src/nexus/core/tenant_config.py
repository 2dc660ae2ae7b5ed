"""A tenant's configuration, kept in memory per process between transactions.

Some of a business's configuration is read on nearly every write (the CRM checks custom values
against the field definitions on every create and change). Instead of reading it again in
each transaction, a module reads it through `cached(session, name, load)`.

- The value is kept per database, tenant and name, and stays good while the tenant's
  configuration version is unchanged. The version is a counter on the tenant's row.
- The caller lookup reads the version at no extra cost and notes it on the session
  (`note_version`).
- Tables holding such configuration are marked `@tenant_configuration`. A flush, or an ORM
  UPDATE or DELETE statement, that changes their rows raises the version of the rows'
  tenants, in the same transaction, through the `configuration_changed` hook. The identity
  module provides it, since it owns the tenant's row.
- From then on that session reads without the cache, so it sees its own changes.

Because the version and the configuration change in one transaction, any transaction that
reads version N sees exactly the configuration committed with N.

Limits:
- A session with no version noted reads without the cache: jobs, commands, activation.
- A cached value is shared by every request of the process, so it must be immutable.
- On SQLite the caller is read in a read transaction just before the write transaction
  begins. A change committed between the two can go unseen by that one request, exactly as if
  the request had run just before the change.
"""

from __future__ import annotations

import collections
import itertools
import uuid
import weakref
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from nexus.core.db import Database, current_tenant, database_of
from nexus.core.registry import registry

T = TypeVar("T")
_Model = TypeVar("_Model", bound=type)

#: `session.info` key: (tenant id, configuration version) read with the caller; None once the
#: session has changed the configuration itself.
_VERSION = "configuration_version"
#: Entries kept per database (least recently used dropped first).
CACHE_SIZE = 10_000

_CONFIGURATION: set[type] = set()
_caches: weakref.WeakKeyDictionary[
    Database, collections.OrderedDict[tuple[uuid.UUID, str], tuple[int, Any]]
] = weakref.WeakKeyDictionary()

#: Hook name: `(connection, tenant ids)` raises those tenants' configuration versions.
CONFIGURATION_CHANGED = "configuration_changed"


def tenant_configuration(model: _Model) -> _Model:
    """Class decorator: `model`'s rows are configuration read through `cached`, so a change
    to them raises the version of their tenant. The model needs a `tenant_id`."""
    _CONFIGURATION.add(model)
    return model


def note_version(session: AsyncSession, tenant_id: uuid.UUID, version: int) -> None:
    """The caller's tenant is at configuration `version` (read with the caller)."""
    session.info[_VERSION] = (tenant_id, version)


def carry_version(source: AsyncSession, target: AsyncSession) -> None:
    """Copy the version noted on `source` to `target`: the caller was looked up in `source`
    on behalf of `target`."""
    if _VERSION in source.info:
        target.info[_VERSION] = source.info[_VERSION]


async def cached(session: AsyncSession, name: str, load: Callable[[], Awaitable[T]]) -> T:
    """The value `load()` gives for the session's tenant, from memory while the tenant's
    configuration version is the one noted on the session."""
    tenant = current_tenant(session)
    noted = session.info.get(_VERSION)
    if tenant is None or noted is None or noted[0] != tenant:
        return await load()
    version = noted[1]
    database = database_of(session)
    cache = _caches.get(database)
    if cache is None:
        cache = _caches[database] = collections.OrderedDict()
    key = (tenant, name)
    entry = cache.get(key)
    if entry is not None and entry[0] == version:
        cache.move_to_end(key)
        value: T = entry[1]
        return value
    value = await load()
    cache[key] = (version, value)
    cache.move_to_end(key)
    if len(cache) > CACHE_SIZE:
        cache.popitem(last=False)
    return value


def _changed(session: Session, tenant_ids: Iterable[uuid.UUID | None]) -> None:
    tenants = sorted({tenant for tenant in tenant_ids if tenant is not None})
    session.info[_VERSION] = None
    if tenants:
        registry.hook(CONFIGURATION_CHANGED)(session.connection(), tenants)


@event.listens_for(Session, "after_flush")
def _configuration_flushed(session: Session, flush_context: UOWTransaction) -> None:
    # (After a flush the session's new, dirty and deleted lists still show what it wrote.)
    if not _CONFIGURATION:
        return
    written = [
        obj
        for obj in itertools.chain(session.new, session.dirty, session.deleted)
        if type(obj) in _CONFIGURATION
    ]
    if written:
        _changed(session, (obj.tenant_id for obj in written))


@event.listens_for(Session, "do_orm_execute")
def _configuration_statement(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete):
        return
    mapper = state.bind_mapper
    if mapper is not None and mapper.class_ in _CONFIGURATION:
        _changed(state.session, [current_tenant(state.session)])
