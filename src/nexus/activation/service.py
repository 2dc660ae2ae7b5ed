"""Activation as one call, the same for the API, the CLI and the console: validate, resolve,
then plan (a dry run) or activate. Who may activate is decided by the caller's edge."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from nexus.activation import engine
from nexus.activation.report import ActivationReport, Plan
from nexus.activation.resolve import ResolvedSpec, resolve
from nexus.activation.spec import ActivationSpec
from nexus.activation.validation import parse_spec
from nexus.core import ratelimit
from nexus.core.context import RequestContext
from nexus.core.db import Database
from nexus.core.errors import TooManyRequests

#: Activations one client address may start per hour through open sign-up.
OPEN_SIGNUP_LIMIT = 10
OPEN_SIGNUP_WINDOW = dt.timedelta(hours=1)


def prepare(data: ActivationSpec | dict[str, Any], prefix: str = "body") -> ResolvedSpec:
    """Validate (every bad field in one 422) and derive what the spec leaves out."""
    spec = data if isinstance(data, ActivationSpec) else parse_spec(data, prefix)
    return resolve(spec)


async def run(
    session: AsyncSession,
    actor: RequestContext,
    resolved: ResolvedSpec,
    *,
    public_base_url: str,
    trusted: bool,
    dry_run: bool = False,
    on_step: engine.StepListener | None = None,
) -> Plan | ActivationReport:
    if dry_run:
        return await engine.plan(session, resolved)
    return await engine.activate(
        session,
        actor,
        resolved,
        public_base_url=public_base_url,
        trusted=trusted,
        on_step=on_step,
    )


async def count_open_signup(database: Database, client_address: str) -> None:
    """Refuse (429) an address that started too many activations this hour; count this one.
    In their own transactions, before the request's session touches the database."""
    key = f"activate:ip:{client_address}"
    async with database.transaction() as own:
        wait = await ratelimit.retry_after(
            own, key, limit=OPEN_SIGNUP_LIMIT, window=OPEN_SIGNUP_WINDOW
        )
    if wait is not None:
        raise TooManyRequests(
            detail=f"Too many businesses started from this address; try again in {wait} s",
            headers={"Retry-After": str(wait)},
        )
    await ratelimit.count_hit(database, key, window=OPEN_SIGNUP_WINDOW)
