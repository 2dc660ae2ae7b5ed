"""Domain events through the transactional outbox.

`publish` adds an outbox row in the caller's transaction; after commit the worker dispatches it
(at least once) to each subscribed handler as a job of its own. Payloads carry ids and
non-personal facts only.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import Any, ClassVar

from sqlalchemy import Index, String
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from nexus.core.context import RequestContext
from nexus.core.db import Base, append_only
from nexus.core.ids import new_id
from nexus.core.types import JSONType, UTCDateTime, utcnow


@append_only
class OutboxEvent(Base):
    __tablename__ = "outbox_events"
    __table_args__ = (Index("ix_outbox_events_pending", "dispatched_at", "occurred_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    type: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(default=1)
    tenant_id: Mapped[uuid.UUID | None]
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    request_id: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    dispatched_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


@dataclasses.dataclass(frozen=True)
class Event:
    """Base of every published event: a frozen dataclass with a `type` and a `version`."""

    type: ClassVar[str]
    version: ClassVar[int] = 1


def _jsonable(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value


def envelope(row: OutboxEvent) -> dict[str, Any]:
    """The versioned envelope handlers (and, through CDC, Kafka consumers) receive."""
    return {
        "id": str(row.id),
        "type": row.type,
        "version": row.version,
        "tenant_id": str(row.tenant_id) if row.tenant_id else None,
        "occurred_at": row.occurred_at.isoformat(),
        "request_id": row.request_id,
        "payload": row.payload,
    }


def publish(session: AsyncSession, ctx: RequestContext, event: Event) -> OutboxEvent:
    payload = {f.name: _jsonable(getattr(event, f.name)) for f in dataclasses.fields(event)}
    row = OutboxEvent(
        type=event.type,
        version=event.version,
        tenant_id=ctx.tenant_id,
        request_id=ctx.request_id,
        payload=payload,
    )
    session.add(row)
    return row
