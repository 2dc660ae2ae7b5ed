from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import uuid
from typing import Any, ClassVar

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from nexus.core.audit import AuditEvent, record
from nexus.core.context import RequestContext
from nexus.core.db import Database
from nexus.core.events import Event, OutboxEvent, publish
from nexus.core.jobs import DONE, FAILED, QUEUED, RUNNING, Job, enqueue
from nexus.core.registry import Module, PeriodicJob, Registry
from nexus.core.settings import Settings
from nexus.core.types import utcnow
from nexus.core.worker import EVENT_JOB, Worker
from tests.conftest import make_settings
from tests.mailbox import Mailbox

RECORD_JOB, FAILING_JOB, TICK_JOB = "testkit.record", "testkit.fail", "testkit.tick"


async def record_run(session: AsyncSession, ctx: RequestContext, payload: dict[str, Any]) -> None:
    record(
        session, ctx, "test.job.ran", target_id=payload.get("n", f"period:{payload.get('period')}")
    )


async def fail(session: AsyncSession, ctx: RequestContext, payload: dict[str, Any]) -> None:
    raise RuntimeError("printer on fire")


@dataclasses.dataclass(frozen=True)
class ThingHappened(Event):
    type: ClassVar[str] = "testkit.thing.happened"
    thing_id: uuid.UUID


async def on_thing_first(session: AsyncSession, ctx: RequestContext, event: dict[str, Any]) -> None:
    record(session, ctx, "test.event.first", target_id=event["payload"]["thing_id"])


async def on_thing_second(
    session: AsyncSession, ctx: RequestContext, event: dict[str, Any]
) -> None:
    record(session, ctx, "test.event.second", target_id=event["payload"]["thing_id"])


def _modules(*, periodic: bool = False) -> Registry:
    modules = Registry()
    modules.register(
        Module(
            name="testkit",
            title="Test kit",
            jobs={RECORD_JOB: record_run, FAILING_JOB: fail, TICK_JOB: record_run},
            event_handlers={ThingHappened.type: (on_thing_first, on_thing_second)},
            periodic_jobs=(PeriodicJob(TICK_JOB, every_seconds=3600),) if periodic else (),
        )
    )
    return modules


@pytest.fixture
def worker_settings(quiet_database: Database, mailbox: Mailbox) -> Settings:
    return make_settings(quiet_database.url, mailbox)


def _worker(database: Database, settings: Settings, *, periodic: bool = False) -> Worker:
    return Worker(
        database, settings, name=f"w-{uuid.uuid4().hex[:6]}", modules=_modules(periodic=periodic)
    )


async def _count(database: Database, *criteria: Any) -> int:
    async with database.transaction() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(*criteria[:1]).where(*criteria[1:])
            )
            or 0
        )


async def _audits(database: Database, action: str, tag: object) -> int:
    """Audit rows of `action` written for this test (their target ids start with `tag`)."""
    return await _count(
        database,
        AuditEvent,
        AuditEvent.action == action,
        AuditEvent.target_id.startswith(str(tag)),
    )


def _tag() -> str:
    return uuid.uuid4().hex[:12]


async def _jobs(database: Database) -> list[Job]:
    async with database.transaction() as session:
        return list(await session.scalars(select(Job).order_by(Job.created_at)))


async def test_a_job_enqueued_in_a_rolled_back_transaction_never_runs(
    quiet_database: Database, worker_settings: Settings
) -> None:
    tag = _tag()
    async with quiet_database.session() as session:
        enqueue(session, RECORD_JOB, {"n": tag})
        await session.flush()
        await session.rollback()

    ran = await _worker(quiet_database, worker_settings).run_until_idle()

    assert ran == 0
    assert await _jobs(quiet_database) == []
    assert await _audits(quiet_database, "test.job.ran", tag) == 0


async def test_a_committed_job_runs_once_and_is_removed(
    quiet_database: Database, worker_settings: Settings
) -> None:
    tag = _tag()
    async with quiet_database.transaction() as session:
        enqueue(session, RECORD_JOB, {"n": tag})

    ran = await _worker(quiet_database, worker_settings).run_until_idle()

    assert ran == 1
    assert await _jobs(quiet_database) == []
    assert await _audits(quiet_database, "test.job.ran", tag) == 1


async def test_a_failing_job_is_retried_later_with_its_error_kept(
    quiet_database: Database, worker_settings: Settings
) -> None:
    async with quiet_database.transaction() as session:
        enqueue(session, FAILING_JOB, max_attempts=3)
    started = utcnow()

    ran = await _worker(quiet_database, worker_settings).run_until_idle()

    assert ran == 1
    [job] = await _jobs(quiet_database)
    assert (job.status, job.attempts, job.locked_until) == (QUEUED, 1, None)
    assert job.last_error == "RuntimeError: printer on fire"
    # back-off after the first attempt: 2 s ± 20 %
    assert started + dt.timedelta(seconds=1.6) <= job.run_at
    assert job.run_at <= utcnow() + dt.timedelta(seconds=2.4)


async def test_a_job_failing_max_attempts_times_is_marked_failed(
    quiet_database: Database, worker_settings: Settings
) -> None:
    async with quiet_database.transaction() as session:
        enqueue(session, FAILING_JOB, max_attempts=2)
    worker = _worker(quiet_database, worker_settings)
    await worker.run_until_idle()
    async with quiet_database.transaction() as session:
        await session.execute(update(Job).values(run_at=utcnow() - dt.timedelta(seconds=1)))

    ran = await worker.run_until_idle()

    assert ran == 1
    [job] = await _jobs(quiet_database)
    assert (job.status, job.attempts) == (FAILED, 2)
    assert job.last_error == "RuntimeError: printer on fire"
    async with quiet_database.transaction() as session:
        await session.execute(update(Job).values(run_at=utcnow() - dt.timedelta(seconds=1)))
    assert await worker.run_until_idle() == 0


async def test_the_job_of_a_worker_that_died_is_claimed_again(
    quiet_database: Database, worker_settings: Settings
) -> None:
    tag = _tag()
    async with quiet_database.transaction() as session:
        session.add(
            Job(
                name=RECORD_JOB,
                payload={"n": tag},
                status=RUNNING,
                attempts=1,
                locked_by="gone:1:abc",
                locked_until=utcnow() - dt.timedelta(seconds=1),
            )
        )

    ran = await _worker(quiet_database, worker_settings).run_until_idle()

    assert ran == 1
    assert await _jobs(quiet_database) == []
    assert await _audits(quiet_database, "test.job.ran", tag) == 1


async def test_a_job_under_a_live_lease_is_left_alone(
    quiet_database: Database, worker_settings: Settings
) -> None:
    tag = _tag()
    async with quiet_database.transaction() as session:
        session.add(
            Job(
                name=RECORD_JOB,
                payload={"n": tag},
                status=RUNNING,
                attempts=1,
                locked_by="busy:1:abc",
                locked_until=utcnow() + dt.timedelta(minutes=4),
            )
        )

    ran = await _worker(quiet_database, worker_settings).run_until_idle()

    assert ran == 0
    [job] = await _jobs(quiet_database)
    assert (job.status, job.locked_by, job.attempts) == (RUNNING, "busy:1:abc", 1)
    assert await _audits(quiet_database, "test.job.ran", tag) == 0


async def test_an_event_is_dispatched_once_to_each_subscribed_handler(
    quiet_database: Database, worker_settings: Settings
) -> None:
    thing = uuid.uuid4()
    async with quiet_database.transaction() as session:
        publish(session, RequestContext.system(), ThingHappened(thing_id=thing))
    worker = _worker(quiet_database, worker_settings)

    ran = await worker.run_until_idle()

    assert ran == 2
    assert await _audits(quiet_database, "test.event.first", thing) == 1
    assert await _audits(quiet_database, "test.event.second", thing) == 1
    assert await _jobs(quiet_database) == []
    async with quiet_database.transaction() as session:
        [outbox] = list(await session.scalars(select(OutboxEvent)))
    assert outbox.dispatched_at is not None
    assert outbox.payload == {"thing_id": str(thing)}
    assert await worker.run_until_idle() == 0
    assert await _audits(quiet_database, "test.event.first", thing) == 1


async def test_an_event_becomes_one_job_per_handler(
    quiet_database: Database, worker_settings: Settings
) -> None:
    async with quiet_database.transaction() as session:
        publish(session, RequestContext.system(), ThingHappened(thing_id=uuid.uuid4()))

    dispatched = await _worker(quiet_database, worker_settings).dispatch_events()

    assert dispatched == 1
    jobs = await _jobs(quiet_database)
    assert sorted((job.name, job.payload["handler"]) for job in jobs) == [
        (EVENT_JOB, f"{__name__}.on_thing_first"),
        (EVENT_JOB, f"{__name__}.on_thing_second"),
    ]


async def test_an_event_published_in_a_rolled_back_transaction_is_never_dispatched(
    quiet_database: Database, worker_settings: Settings
) -> None:
    thing = uuid.uuid4()
    async with quiet_database.session() as session:
        publish(session, RequestContext.system(), ThingHappened(thing_id=thing))
        await session.flush()
        await session.rollback()

    ran = await _worker(quiet_database, worker_settings).run_until_idle()

    assert ran == 0
    assert await _count(quiet_database, OutboxEvent) == 0
    assert await _audits(quiet_database, "test.event.first", thing) == 0


async def test_a_periodic_job_is_enqueued_once_per_period_across_workers(
    quiet_database: Database, worker_settings: Settings
) -> None:
    first = _worker(quiet_database, worker_settings, periodic=True)
    second = _worker(quiet_database, worker_settings, periodic=True)

    await first.schedule_periodic()
    await second.schedule_periodic()
    await first.schedule_periodic()

    jobs = await _jobs(quiet_database)
    period = int(utcnow().timestamp() // 3600)
    assert [(job.name, job.dedupe_key) for job in jobs] == [(TICK_JOB, f"{TICK_JOB}:{period}")]


async def test_a_periodic_job_stays_done_for_its_period(
    quiet_database: Database, worker_settings: Settings
) -> None:
    first = _worker(quiet_database, worker_settings, periodic=True)
    await first.schedule_periodic()
    await first.run_until_idle()

    await _worker(quiet_database, worker_settings, periodic=True).schedule_periodic()

    [job] = await _jobs(quiet_database)
    assert job.status == DONE
    assert await _audits(quiet_database, "test.job.ran", f"period:{job.payload['period']}") == 1


async def test_two_workers_never_run_the_same_job_twice(
    quiet_database: Database, worker_settings: Settings
) -> None:
    tag = _tag()
    async with quiet_database.transaction() as session:
        for n in range(30):
            enqueue(session, RECORD_JOB, {"n": f"{tag}:{n}"})
    first, second = (
        _worker(quiet_database, worker_settings),
        _worker(quiet_database, worker_settings),
    )

    ran = await asyncio.gather(first.run_until_idle(), second.run_until_idle())

    assert sum(ran) == 30
    async with quiet_database.transaction() as session:
        targets = list(
            await session.scalars(
                select(AuditEvent.target_id).where(
                    AuditEvent.action == "test.job.ran", AuditEvent.target_id.startswith(tag)
                )
            )
        )
    assert sorted(targets) == sorted(f"{tag}:{n}" for n in range(30))
    assert await _jobs(quiet_database) == []
