"""The kernel's own entry in the registry: its jobs (mail, event dispatch, pruning)."""

from __future__ import annotations

from nexus.core import mail, maintenance
from nexus.core.registry import Module, PeriodicJob

module = Module(
    name="core",
    title="Kernel",
    always_enabled=True,
    jobs={
        mail.SEND_MAIL_JOB: mail.send_mail_job,
        maintenance.PRUNE_JOB: maintenance.prune_job,
    },
    periodic_jobs=(PeriodicJob(maintenance.PRUNE_JOB, every_seconds=3600),),
)
