from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from nexus.core.db import Database
from nexus.core.jobs import QUEUED, Job
from nexus.core.mail import SEND_MAIL_JOB, send_mail
from nexus.core.worker import Worker
from nexus.modules import load_modules
from tests.conftest import make_settings
from tests.identity.factories import unique
from tests.mailbox import Mailbox


def _address() -> str:
    return f"{unique('reader')}@example.com"


async def _queue(database: Database, to: str, subject: str = "Your invoice INV-0042") -> None:
    async with database.transaction() as session:
        send_mail(session, to=to, subject=subject, text="Amount due: NGN 12,500.00")


async def _jobs(database: Database) -> list[Job]:
    async with database.transaction() as session:
        return list(await session.scalars(select(Job).where(Job.name == SEND_MAIL_JOB)))


async def test_queued_mail_is_delivered_through_smtp_by_the_worker(
    quiet_database: Database, mailbox: Mailbox
) -> None:
    load_modules()
    to = _address()
    await _queue(quiet_database, to)

    ran = await Worker(quiet_database, make_settings(quiet_database.url, mailbox)).run_until_idle()

    assert ran == 1
    [message] = mailbox.to(to)
    assert message["Subject"] == "Your invoice INV-0042"
    assert message["To"] == to
    assert message["From"] == "NEXUS <no-reply@nexus.localhost>"
    body = message.get_body(("plain",))
    assert body is not None and body.get_content().strip() == "Amount due: NGN 12,500.00"
    assert await _jobs(quiet_database) == []


async def test_mail_of_a_rolled_back_transaction_is_never_sent(
    quiet_database: Database, mailbox: Mailbox
) -> None:
    load_modules()
    to = _address()
    async with quiet_database.session() as session:
        send_mail(session, to=to, subject="Never", text="Never")
        await session.flush()
        await session.rollback()

    ran = await Worker(quiet_database, make_settings(quiet_database.url, mailbox)).run_until_idle()

    assert ran == 0
    assert mailbox.to(to) == []


async def test_dev_mode_without_smtp_writes_the_mail_to_the_log(
    quiet_database: Database, mailbox: Mailbox, caplog: pytest.LogCaptureFixture
) -> None:
    load_modules()
    to = _address()
    await _queue(quiet_database, to, subject="Dev-mode greeting")
    settings = make_settings(quiet_database.url, mailbox, smtp_url=None, dev=True)
    caplog.set_level(logging.INFO, logger="nexus.mail")

    ran = await Worker(quiet_database, settings).run_until_idle()

    assert ran == 1
    logged = [r.getMessage() for r in caplog.records if r.name == "nexus.mail"]
    assert len(logged) == 1
    assert "Subject: Dev-mode greeting" in logged[0]
    assert f"To: {to}" in logged[0]
    assert mailbox.to(to) == []
    assert await _jobs(quiet_database) == []


async def test_without_smtp_outside_dev_mode_the_mail_job_fails(
    quiet_database: Database, mailbox: Mailbox
) -> None:
    load_modules()
    to = _address()
    await _queue(quiet_database, to)
    settings = make_settings(quiet_database.url, mailbox, smtp_url=None, dev=False)

    ran = await Worker(quiet_database, settings).run_until_idle()

    assert ran == 1
    [job] = await _jobs(quiet_database)
    assert (job.status, job.attempts) == (QUEUED, 1)
    assert job.last_error == "RuntimeError: NEXUS_SMTP_URL is not set; cannot send e-mail"
    assert mailbox.to(to) == []
