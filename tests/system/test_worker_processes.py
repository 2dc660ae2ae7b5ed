"""The worker as it runs in production: inside `nexus serve` (surviving a SIGKILL of the
server) and as its own `nexus worker` process."""

from __future__ import annotations

import datetime as dt
import signal
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import func, select

from nexus.core.jobs import Job, enqueue
from nexus.core.mail import SEND_MAIL_JOB
from nexus.core.types import utcnow
from tests.conftest import fresh_database_url
from tests.identity.factories import unique
from tests.mailbox import Mailbox
from tests.system.conftest import (
    NEXUS,
    LiveServer,
    NexusProcess,
    database_for,
    nexus_environment,
    run_async,
)

pytestmark = pytest.mark.system


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    yield from fresh_database_url(tmp_path, "proc")


def _queue_mail(database_url: str, to: str, *, delay: dt.timedelta = dt.timedelta()) -> None:
    async def queue() -> None:
        database = database_for(database_url)
        try:
            async with database.transaction() as session:
                payload = {"to": to, "subject": "Stock count due", "text": "Count aisle 4."}
                enqueue(session, SEND_MAIL_JOB, payload, run_at=utcnow() + delay)
        finally:
            await database.dispose()

    run_async(queue())


def _mail_jobs_left(database_url: str) -> int:
    async def count() -> int:
        database = database_for(database_url)
        try:
            async with database.transaction() as session:
                return int(
                    await session.scalar(
                        select(func.count()).select_from(Job).where(Job.name == SEND_MAIL_JOB)
                    )
                    or 0
                )
        finally:
            await database.dispose()

    return run_async(count())


def _wait_for_mail(mailbox: Mailbox, to: str, timeout: float = 30) -> list[EmailMessage]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := mailbox.to(to):
            return found
        time.sleep(0.1)
    return []


def test_a_job_queued_when_the_server_is_killed_is_run_after_restart(
    database_url: str, mailbox: Mailbox, tmp_path: Path
) -> None:
    to = f"{unique('clerk')}@example.com"
    server = LiveServer(database_url, mailbox, tmp_path / "logs").start()
    _queue_mail(database_url, to, delay=dt.timedelta(seconds=3))

    try:
        assert server.kill() == -signal.SIGKILL
        assert mailbox.to(to) == []
        assert _mail_jobs_left(database_url) == 1

        server.start()
        delivered = _wait_for_mail(mailbox, to)
    finally:
        server.stop()

    assert [m["Subject"] for m in delivered] == ["Stock count due"]
    assert _mail_jobs_left(database_url) == 0


def test_nexus_worker_on_its_own_delivers_queued_mail(
    database_url: str, mailbox: Mailbox, tmp_path: Path
) -> None:
    to = f"{unique('clerk')}@example.com"
    _queue_mail(database_url, to)
    worker = NexusProcess(
        [str(NEXUS), "worker"], nexus_environment(database_url, mailbox), tmp_path / "logs"
    ).start()

    try:
        delivered = _wait_for_mail(mailbox, to)
    finally:
        exit_code = worker.stop()

    assert [m["Subject"] for m in delivered] == ["Stock count due"]
    assert exit_code == 0, worker.output()
    assert _mail_jobs_left(database_url) == 0
