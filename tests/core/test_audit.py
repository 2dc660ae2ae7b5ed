from __future__ import annotations

import uuid

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from nexus.core.audit import AuditEvent, record
from nexus.core.context import RequestContext


async def _audited(session: AsyncSession) -> uuid.UUID:
    target = uuid.uuid4()
    record(session, RequestContext.system(), "test.thing.created", target_id=target)
    await session.flush()
    event_id = await session.scalar(
        select(AuditEvent.id).where(AuditEvent.target_id == str(target))
    )
    assert event_id is not None
    return event_id


async def test_the_database_refuses_to_update_an_audit_event(session: AsyncSession) -> None:
    event_id = await _audited(session)

    with pytest.raises(DBAPIError, match="append-only"):
        async with session.begin_nested():
            await session.execute(
                update(AuditEvent).where(AuditEvent.id == event_id).values(action="test.rewritten")
            )

    action = await session.scalar(select(AuditEvent.action).where(AuditEvent.id == event_id))
    assert action == "test.thing.created"


async def test_the_database_refuses_to_delete_an_audit_event(session: AsyncSession) -> None:
    event_id = await _audited(session)

    with pytest.raises(DBAPIError, match="append-only"):
        async with session.begin_nested():
            await session.execute(delete(AuditEvent).where(AuditEvent.id == event_id))

    still_there = await session.scalar(select(AuditEvent.id).where(AuditEvent.id == event_id))
    assert still_there == event_id
