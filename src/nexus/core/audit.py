"""The append-only audit log: who did what to which record, when, from which request.

Holds names of changed fields, never their values (no PHI, no secrets). The database refuses
UPDATE and DELETE on the table (triggers in the migration); nothing here offers either.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable

from sqlalchemy import Index, String
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from nexus.core.context import RequestContext
from nexus.core.db import Base, Database, append_only
from nexus.core.ids import new_id
from nexus.core.types import JSONType, UTCDateTime, utcnow


@append_only
class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_tenant_time", "tenant_id", "occurred_at"),
        # A record's history (the CRM timeline): its events by time.
        Index("ix_audit_events_target", "tenant_id", "target_type", "target_id", "occurred_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(index=False)
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[uuid.UUID | None]
    action: Mapped[str] = mapped_column(String(100), index=True)
    target_type: Mapped[str | None] = mapped_column(String(50))
    target_id: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(64))
    client_address: Mapped[str | None] = mapped_column(String(64))
    changes: Mapped[list[str]] = mapped_column(JSONType, default=list)


def _event(
    ctx: RequestContext,
    action: str,
    target_type: str | None,
    target_id: object,
    changes: Iterable[str],
    tenant_id: uuid.UUID | None,
) -> AuditEvent:
    return AuditEvent(
        tenant_id=tenant_id if tenant_id is not None else ctx.tenant_id,
        actor_type=ctx.actor_type,
        actor_id=ctx.actor_id,
        action=action,
        target_type=target_type,
        target_id=str(target_id) if target_id is not None else None,
        request_id=ctx.request_id,
        client_address=ctx.client_address,
        changes=sorted(changes),
    )


def record(
    session: AsyncSession,
    ctx: RequestContext,
    action: str,
    *,
    target_type: str | None = None,
    target_id: object = None,
    changes: Iterable[str] = (),
    tenant_id: uuid.UUID | None = None,
) -> None:
    """Add an audit row to the caller's transaction: it exists exactly when the change does."""
    session.add(_event(ctx, action, target_type, target_id, changes, tenant_id))


async def record_committed(
    database: Database,
    ctx: RequestContext,
    action: str,
    *,
    target_type: str | None = None,
    target_id: object = None,
    tenant_id: uuid.UUID | None = None,
) -> None:
    """Audit in its own transaction, for events of refused requests (a failed sign-in)."""
    async with database.transaction() as session:
        session.add(_event(ctx, action, target_type, target_id, (), tenant_id))
