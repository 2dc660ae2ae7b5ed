"""Housekeeping run hourly by the worker: prune what has served its time."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from nexus.core import idempotency
from nexus.core.context import RequestContext
from nexus.core.events import OutboxEvent
from nexus.core.jobs import DONE, Job
from nexus.core.settings import Settings
from nexus.core.types import utcnow

PRUNE_JOB = "core.maintenance.prune"
DONE_JOB_RETENTION = dt.timedelta(days=7)


async def prune_job(session: AsyncSession, ctx: RequestContext, payload: dict[str, Any]) -> None:
    settings: Settings = session.info["settings"]
    now = utcnow()
    await session.execute(
        delete(OutboxEvent).where(
            OutboxEvent.dispatched_at.is_not(None),
            OutboxEvent.dispatched_at < now - dt.timedelta(days=settings.outbox_retention_days),
        )
    )
    await session.execute(
        delete(Job).where(Job.status == DONE, Job.created_at < now - DONE_JOB_RETENTION)
    )
    await idempotency.prune(session)
