"""Append-only rows (audit events, outbox events) are written at flush by one multi-row INSERT
per table, or on PostgreSQL one statement for all of them, and read back at once."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import pytest
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession

from nexus.core.audit import AuditEvent, record
from nexus.core.context import RequestContext
from nexus.core.db import add_written_once, bind_tenant
from nexus.core.errors import TenantContextMissing
from nexus.core.events import Event, OutboxEvent, publish
from nexus.core.guard import across_tenants
from nexus.identity.models import Role
from tests.core.conftest import add_tenant
from tests.identity.factories import unique


@dataclasses.dataclass(frozen=True)
class Noted(Event):
    type: ClassVar[str] = "test.thing.noted"
    thing_id: uuid.UUID


@contextmanager
def counting_session(session: AsyncSession) -> Iterator[list[str]]:
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement.lstrip())

    engine = session.sync_session.get_bind()
    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", seen)


async def test_audit_and_outbox_rows_are_written_at_flush_in_few_statements(
    session: AsyncSession, engine_name: str
) -> None:
    ctx = RequestContext.system()
    things = [uuid.uuid4(), uuid.uuid4()]
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement.lstrip().split()[0] + " " + statement.split("(")[0][-40:])

    for thing in things:
        record(session, ctx, "test.thing.noted", target_id=thing, changes=["b", "a"])
        published = publish(session, ctx, Noted(thing))
    engine = (await session.connection()).sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        await session.flush()
    finally:
        event.remove(engine, "before_cursor_execute", seen)

    audited = (
        await session.scalars(
            select(AuditEvent).where(AuditEvent.target_id.in_([str(t) for t in things]))
        )
    ).all()
    outbox = (
        await session.scalars(select(OutboxEvent).where(OutboxEvent.type == "test.thing.noted"))
    ).all()
    assert sorted(a.target_id for a in audited) == sorted(str(t) for t in things)
    assert {tuple(a.changes) for a in audited} == {("a", "b")}
    assert all(a.occurred_at is not None and a.actor_type == "system" for a in audited)
    assert sorted(o.payload["thing_id"] for o in outbox) == sorted(str(t) for t in things)
    assert published.id in {o.id for o in outbox}
    assert published not in session  # written without the unit of work
    if engine_name == "postgresql":
        assert len(statements) == 1 and statements[0].startswith("WITH")
    else:
        assert len(statements) == 2 and all(s.startswith("INSERT") for s in statements)


async def _one_role_written_once(
    session: AsyncSession, tenant_id: uuid.UUID | None
) -> tuple[Role, list[str]]:
    ctx = RequestContext.system(tenant_id)
    role = add_written_once(session, Role(tenant_id=tenant_id, key=unique("r"), name="Clerk"))
    record(session, ctx, "test.role.added", target_id=role.id)
    publish(session, ctx, Noted(role.id))
    with counting_session(session) as statements:
        await session.flush()
    return role, statements


async def test_a_row_written_once_goes_with_the_audit_and_outbox_rows(
    session: AsyncSession, engine_name: str
) -> None:
    tenant = await add_tenant(session)
    await bind_tenant(session, tenant.id)

    role, statements = await _one_role_written_once(session, None)

    assert role not in session  # written without the unit of work, not kept
    assert (role.tenant_id, role.version) == (tenant.id, 1)  # stamped, with its defaults
    stored = await session.scalar(select(Role.name).where(Role.id == role.id))
    assert stored == "Clerk"
    if engine_name == "postgresql":
        assert len(statements) == 1 and "INSERT INTO roles" in statements[0]
    else:
        assert [s.split("(")[0].strip() for s in statements] == [
            "INSERT INTO roles",
            "INSERT INTO audit_events",
            "INSERT INTO outbox_events",
        ]


async def test_a_row_written_once_for_another_tenant_is_refused(session: AsyncSession) -> None:
    mine, theirs = await add_tenant(session), await add_tenant(session)
    await bind_tenant(session, mine.id)

    with pytest.raises(TenantContextMissing, match="another tenant"):
        async with session.begin_nested():
            await _one_role_written_once(session, theirs.id)

    with across_tenants(session):
        assert await session.scalar(select(Role.id).where(Role.tenant_id == theirs.id)) is None
