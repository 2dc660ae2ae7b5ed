"""The worker: dispatches outbox events and runs jobs, with retries and back-off.

Several workers may share one database: a job is claimed with `FOR UPDATE SKIP LOCKED` on
PostgreSQL (SQLite has one writer at a time), under a lease; a worker that dies mid-job leaves
a lease that runs out, and the job is claimed again (at least once). Each job runs in one
transaction that also removes it, so its effects and its completion commit together.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import math
import os
import random
import socket
import traceback
import uuid
from typing import Any

from sqlalchemy import and_, delete, or_, select, update

from nexus.core.context import RequestContext
from nexus.core.db import Database, dialect_insert
from nexus.core.events import OutboxEvent, envelope
from nexus.core.jobs import DONE, FAILED, QUEUED, RUNNING, Job
from nexus.core.registry import Registry, registry
from nexus.core.settings import Settings
from nexus.core.types import utcnow

EVENT_JOB = "core.event.handle"
LEASE = dt.timedelta(minutes=5)
MAX_BACKOFF_SECONDS = 3600
DISPATCH_BATCH = 100
log = logging.getLogger("nexus.worker")


def backoff(attempts: int) -> dt.timedelta:
    """2, 4, 8 … seconds (capped at an hour), with ±20% jitter so retries do not stampede."""
    seconds = min(2**attempts, MAX_BACKOFF_SECONDS)
    return dt.timedelta(seconds=seconds * random.uniform(0.8, 1.2))


class Worker:
    def __init__(
        self,
        database: Database,
        settings: Settings,
        *,
        name: str | None = None,
        modules: Registry = registry,
    ) -> None:
        self.database = database
        self.settings = settings
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.registry = modules
        self._scheduled: dict[str, int] = {}

    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set; sleep `worker_poll_seconds` when there is nothing to do."""
        log.info("worker started", extra={"worker": self.name})
        while not stop.is_set():
            try:
                busy = await self.tick()
            except Exception:  # keep the loop alive; the database may be briefly away
                log.exception("worker tick failed")
                busy = False
            if not busy:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.settings.worker_poll_seconds)

    async def tick(self) -> bool:
        """One round: schedule due periodic jobs, dispatch events, run one job. True if busy."""
        await self.schedule_periodic()
        dispatched = await self.dispatch_events()
        ran = await self.run_one_job()
        return dispatched > 0 or ran

    async def run_until_idle(self, max_rounds: int = 1000) -> int:
        """Tick until there is nothing left to do now (for tests and the CLI). Jobs run."""
        jobs = 0
        for _ in range(max_rounds):
            dispatched = await self.dispatch_events()
            ran = await self.run_one_job()
            jobs += int(ran)
            if not dispatched and not ran:
                return jobs
        raise RuntimeError("the worker did not become idle")

    async def schedule_periodic(self) -> None:
        now = utcnow().timestamp()
        for periodic in self.registry.periodic_jobs():
            period = math.floor(now / periodic.every_seconds)
            if self._scheduled.get(periodic.job) == period:
                continue
            async with self.database.transaction() as session:
                insert = dialect_insert(session, Job.__table__).values(
                    id=uuid.uuid4(),
                    name=periodic.job,
                    payload={"period": period},
                    status=QUEUED,
                    attempts=0,
                    max_attempts=3,
                    run_at=utcnow(),
                    created_at=utcnow(),
                    dedupe_key=f"{periodic.job}:{period}",
                )
                await session.execute(insert.on_conflict_do_nothing(index_elements=["dedupe_key"]))
            self._scheduled[periodic.job] = period

    async def dispatch_events(self) -> int:
        """Turn undispatched outbox rows into one job per subscribed handler."""
        async with self.database.transaction() as session:
            rows = list(
                await session.scalars(
                    select(OutboxEvent)
                    .where(OutboxEvent.dispatched_at.is_(None))
                    .order_by(OutboxEvent.occurred_at, OutboxEvent.id)
                    .limit(DISPATCH_BATCH)
                    .with_for_update(skip_locked=True)
                )
            )
            now = utcnow()
            for row in rows:
                for handler_name, _handler in self.registry.event_handlers(row.type):
                    session.add(
                        Job(
                            name=EVENT_JOB,
                            tenant_id=row.tenant_id,
                            payload={"event": envelope(row), "handler": handler_name},
                        )
                    )
                row.dispatched_at = now
            return len(rows)

    async def _claim(self) -> Job | None:
        now = utcnow()
        ready = or_(
            and_(Job.status == QUEUED, Job.run_at <= now),
            and_(Job.status == RUNNING, Job.locked_until < now),
        )
        candidate = (
            select(Job.id)
            .where(ready)
            .order_by(Job.run_at)
            .limit(1)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        async with self.database.transaction() as session:
            job: Job | None = await session.scalar(
                update(Job)
                .where(Job.id == candidate, ready)
                .values(
                    status=RUNNING,
                    attempts=Job.attempts + 1,
                    locked_until=now + LEASE,
                    locked_by=self.name,
                )
                .returning(Job)
            )
            return job

    async def run_one_job(self) -> bool:
        job = await self._claim()
        if job is None:
            return False
        try:
            async with self.database.transaction(tenant_id=job.tenant_id) as session:
                session.info["settings"] = self.settings
                await self._execute(session, job)
                await self._finish(session, job)
        except Exception as error:  # a failing job is retried, never fatal to the worker
            await self._fail(job, error)
        return True

    async def _execute(self, session: Any, job: Job) -> None:
        ctx = RequestContext.system(job.tenant_id, request_id=f"job:{job.id}")
        if job.name == EVENT_JOB:
            event = job.payload["event"]
            handler = self.registry.handler_by_name(event["type"], job.payload["handler"])
            if handler is None:
                raise LookupError(f"no handler {job.payload['handler']} for {event['type']}")
            await handler(session, ctx, event)
            return
        job_handler = self.registry.job_handler(job.name)
        if job_handler is None:
            raise LookupError(f"no handler for job {job.name!r}")
        await job_handler(session, ctx, job.payload)

    async def _finish(self, session: Any, job: Job) -> None:
        mine = and_(Job.id == job.id, Job.locked_by == self.name)
        if job.dedupe_key:
            await session.execute(update(Job).where(mine).values(status=DONE, locked_until=None))
        else:
            await session.execute(delete(Job).where(mine))

    async def _fail(self, job: Job, error: Exception) -> None:
        last = "".join(traceback.format_exception_only(type(error), error)).strip()[:2000]
        exhausted = job.attempts >= job.max_attempts
        log.warning(
            "job failed",
            extra={"job": job.name, "job_id": str(job.id), "attempt": job.attempts},
            exc_info=error,
        )
        async with self.database.transaction() as session:
            await session.execute(
                update(Job)
                .where(Job.id == job.id, Job.locked_by == self.name)
                .values(
                    status=FAILED if exhausted else QUEUED,
                    run_at=utcnow() + backoff(job.attempts),
                    locked_until=None,
                    last_error=last,
                )
            )
