"""The audit log page: who did what in the business, newest first, filtered by person, action
and days of the business's calendar.

It reads through `team.list_audit_events`, as `/api/v1/identity/audit-events` does.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Request, Response
from pydantic import BaseModel

from nexus.console.pages.common import Session, new_router, parse, require
from nexus.console.shell import Form, form_with_error, gettext, render
from nexus.core.context import RequestContext
from nexus.core.errors import FieldError, ValidationFailed
from nexus.identity.schemas.team import SearchText
from nexus.identity.service import team, tenant_profile

router = new_router()

Reader = Annotated[RequestContext, require("identity.audit.read")]
PAGE_SIZE = 50
FILTERS = ("actor", "action", "from", "to")


class AuditFilters(BaseModel):
    """The page's query as typed: a member, an action (`identity.user.*` for a prefix) and
    the first and last days to show."""

    actor: uuid.UUID | None = None
    action: SearchText | None = None
    since: dt.date | None = None
    until: dt.date | None = None
    cursor: SearchText | None = None


@dataclass(frozen=True)
class Window:
    """The filter days as UTC times: from the start of `since` to the end of `until`."""

    since: dt.datetime | None
    until: dt.datetime | None


def _filters(values: dict[str, str]) -> AuditFilters:
    renamed = {"since": values.get("from"), "until": values.get("to")}
    fields = {k: v for k, v in {**values, **renamed}.items() if v and k not in ("from", "to")}
    try:
        filters = parse(AuditFilters, fields)
    except ValidationFailed as error:
        names = {"body.since": "from", "body.until": "to"}
        raise ValidationFailed(
            errors=[FieldError(names.get(e.field, e.field), e.reason, e.code) for e in error.errors]
        ) from None
    if filters.since and filters.until and filters.until < filters.since:
        raise ValidationFailed(errors=[FieldError("to", "The last day is before the first")])
    return filters


def window(filters: AuditFilters, timezone: str) -> Window:
    """Days of the business's calendar → UTC bounds for the service's `since` / `until`."""
    zone = ZoneInfo(timezone)

    def start(day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(0), tzinfo=zone).astimezone(dt.UTC)

    return Window(
        since=start(filters.since) if filters.since else None,
        until=start(filters.until + dt.timedelta(days=1)) if filters.until else None,
    )


@router.get("/audit")
async def audit_log(request: Request, session: Session, ctx: Reader) -> Response:
    values = {k: v for k, v in request.query_params.items() if k in (*FILTERS, "cursor")}
    members = (await team.list_members(session, ctx, limit=200)).items
    context: dict[str, Any] = {
        "form": Form(dict(values), {}),
        "actors": [("", gettext(request, "Anyone"))]
        + [(str(m.user_id), f"{m.name} <{m.email}>" if m.name else m.email) for m in members],
        "names": {m.user_id: m.name or m.email for m in members},
        "page": None,
        "params": {k: values.get(k, "") for k in FILTERS},
        "is_filtered": any(values.get(k) for k in FILTERS),
    }
    try:
        filters = _filters(values)
    except ValidationFailed as error:
        context["form"] = form_with_error(values, error)
        context["form"].message = None  # the errors stand next to their filters
        return await render(request, "identity/audit.html", context, status=error.status)
    bounds = window(filters, (await tenant_profile.get_profile(session, ctx)).timezone)
    context["page"] = await team.list_audit_events(
        session,
        ctx,
        actor_id=filters.actor,
        action=filters.action,
        since=bounds.since,
        until=bounds.until,
        limit=PAGE_SIZE,
        cursor=filters.cursor,
    )
    return await render(request, "identity/audit.html", context)
