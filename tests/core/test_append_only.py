"""Append-only rows (audit events, outbox events) are written at flush by one multi-row INSERT
per table, or on PostgreSQL one statement for all of them, and read back at once."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any, ClassVar

from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession

from nexus.core.audit import AuditEvent, record
from nexus.core.context import RequestContext
from nexus.core.events import Event, OutboxEvent, publish


@dataclasses.dataclass(frozen=True)
class Noted(Event):
    type: ClassVar[str] = "test.thing.noted"
    thing_id: uuid.UUID


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
