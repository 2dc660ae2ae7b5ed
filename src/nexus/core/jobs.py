"""Background jobs: enqueued in the caller's transaction, run after commit by the worker."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import Index, String, Text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from nexus.core.db import Base
from nexus.core.ids import new_id
from nexus.core.types import JSONType, UTCDateTime, utcnow

QUEUED, RUNNING, FAILED = "queued", "running", "failed"
#: Only periodic jobs stay after success (their `dedupe_key` marks the period as run).
DONE = "done"


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_ready", "status", "run_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    tenant_id: Mapped[uuid.UUID | None]
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(String(16), default=QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=8)
    run_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    locked_by: Mapped[str | None] = mapped_column(String(100))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Periodic jobs use `name:period` so only one worker enqueues each period.
    dedupe_key: Mapped[str | None] = mapped_column(String(250), unique=True)


def enqueue(
    session: AsyncSession,
    name: str,
    payload: dict[str, Any] | None = None,
    *,
    tenant_id: uuid.UUID | None = None,
    run_at: dt.datetime | None = None,
    max_attempts: int = 8,
) -> Job:
    """Add a job to the caller's transaction: it runs only if that transaction commits."""
    job = Job(
        name=name,
        payload=payload or {},
        tenant_id=tenant_id,
        run_at=run_at or utcnow(),
        max_attempts=max_attempts,
    )
    session.add(job)
    return job
