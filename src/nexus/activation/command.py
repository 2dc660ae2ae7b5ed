"""`nexus activate`: the same activation as the API, in one transaction of its own. The
command line is trusted like an operator (it holds the database)."""

from __future__ import annotations

from typing import Any

from nexus.activation import engine, service
from nexus.activation.draft import Draft, get_drafter
from nexus.activation.report import ActivationReport, Plan
from nexus.core.context import RequestContext
from nexus.core.db import Database
from nexus.core.security import Keyring
from nexus.core.settings import Settings


async def activate_command(
    settings: Settings,
    data: dict[str, Any],
    *,
    dry_run: bool,
    on_start: Any = None,
    on_step: engine.StepListener | None = None,
) -> Plan | ActivationReport:
    """Validate and resolve (raising `ValidationFailed` naming every bad field), then plan or
    activate. `on_start(steps)` hears the step names before the first one runs."""
    resolved = service.prepare(data, prefix="spec")
    database = Database(settings.database_url, keyring=Keyring(settings.secret_keys), pool_size=1)
    try:
        async with database.transaction() as session:
            if on_start is not None:
                on_start([] if dry_run else engine.step_names(resolved))
            return await service.run(
                session,
                RequestContext.system(),
                resolved,
                public_base_url=settings.public_base_url,
                trusted=True,
                dry_run=dry_run,
                on_step=on_step,
            )
    finally:
        await database.dispose()


async def draft_command(prompt: str) -> Draft:
    return await get_drafter().draft(prompt)
