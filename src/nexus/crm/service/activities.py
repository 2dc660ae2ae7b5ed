"""Activities: calls, meetings, tasks, notes, e-mail logs and the business's own kinds, with a
due time, an assignee and a done state; and a contact's timeline.

An activity is linked to any of a contact, a company and a deal, or to none: an activity with
no link is a personal task (a reminder to oneself). Without `crm.record.all` one sees the
activities one is assigned to or created.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from nexus.core.audit import AuditEvent, record
from nexus.core.concurrency import check_version, expected_version
from nexus.core.context import RequestContext
from nexus.core.errors import Conflict, FieldError, NotFound, invalid
from nexus.core.pagination import Page, paginate
from nexus.core.types import utcnow
from nexus.crm import schemas_activity_types as types_schemas
from nexus.crm import schemas_deals as schemas
from nexus.crm.errors_deals import ActivityNotFound, ContactNotFound
from nexus.crm.models import BUILTIN_ACTIVITY_KINDS, Activity, ActivityType, Contact
from nexus.crm.service.common import ALL_RECORDS, visible_to
from nexus.crm.service.deals import check_company, check_contact, check_member, deal_exists
from nexus.crm.service.ordering import NullsLast, paginate_nulls_last
from nexus.identity.service.team import tenant_of

#: How the contacts service names a contact in the audit log.
CONTACT_AUDIT_TARGET = "crm_contact"


def view(activity: Activity) -> schemas.Activity:
    return schemas.Activity(
        id=activity.id,
        kind=activity.kind,
        subject=activity.subject,
        body=activity.body,
        due_at=activity.due_at,
        done_at=activity.done_at,
        is_done=activity.done_at is not None,
        assignee_id=activity.assignee_id,
        contact_id=activity.contact_id,
        company_id=activity.company_id,
        deal_id=activity.deal_id,
        created_by=activity.created_by,
        created_at=activity.created_at,
        updated_at=activity.updated_at,
        version=activity.version,
    )


def _access(ctx: RequestContext) -> ColumnElement[bool]:
    if ctx.can(ALL_RECORDS):
        return true()
    return or_(Activity.assignee_id == ctx.user_id, Activity.created_by == ctx.user_id)


async def activity_row(
    session: AsyncSession, ctx: RequestContext, activity_id: uuid.UUID
) -> Activity:
    activity = await session.scalar(
        select(Activity).where(Activity.id == activity_id, _access(ctx))
    )
    if activity is None:
        raise ActivityNotFound()
    return activity


async def _check_kind(session: AsyncSession, kind: str) -> None:
    if kind in BUILTIN_ACTIVITY_KINDS:
        return
    if await session.scalar(select(ActivityType.id).where(ActivityType.key == kind)) is None:
        raise invalid("body.kind", f"Unknown activity kind {kind!r}", "unknown_kind")


async def _check_deal(session: AsyncSession, deal_id: uuid.UUID | None) -> None:
    if deal_id is not None and not await deal_exists(session, deal_id):
        raise invalid("body.deal_id", "No such deal", "not_found")


async def create_activity(
    session: AsyncSession, ctx: RequestContext, data: schemas.ActivityCreate
) -> schemas.Activity:
    """An activity assigned to the caller unless `assignee_id` names another member."""
    await _check_kind(session, data.kind)
    await check_contact(session, data.contact_id, "body.contact_id")
    await check_company(session, data.company_id, "body.company_id")
    await _check_deal(session, data.deal_id)
    assignee = data.assignee_id or ctx.user_id
    await check_member(session, ctx, assignee, "body.assignee_id")
    activity = Activity(
        kind=data.kind,
        subject=data.subject,
        body=data.body,
        due_at=data.due_at,
        done_at=utcnow() if data.done else None,
        assignee_id=assignee,
        contact_id=data.contact_id,
        company_id=data.company_id,
        deal_id=data.deal_id,
        created_by=ctx.user_id,
    )
    session.add(activity)
    await session.flush()
    record(
        session,
        ctx,
        "crm.activity.created",
        target_type="crm_activity",
        target_id=activity.id,
        changes=sorted(data.model_fields_set),
    )
    return view(activity)


async def get_activity(
    session: AsyncSession, ctx: RequestContext, activity_id: uuid.UUID
) -> schemas.Activity:
    return view(await activity_row(session, ctx, activity_id))


CLEARABLE = ("body", "due_at", "contact_id", "company_id", "deal_id")


async def _check_update(
    session: AsyncSession, ctx: RequestContext, data: schemas.ActivityUpdate
) -> None:
    sent = data.model_fields_set
    if data.kind is not None:
        await _check_kind(session, data.kind)
    if "contact_id" in sent:
        await check_contact(session, data.contact_id, "body.contact_id")
    if "company_id" in sent:
        await check_company(session, data.company_id, "body.company_id")
    if "deal_id" in sent:
        await _check_deal(session, data.deal_id)
    if data.assignee_id is not None:
        await check_member(session, ctx, data.assignee_id, "body.assignee_id")


async def update_activity(
    session: AsyncSession,
    ctx: RequestContext,
    activity_id: uuid.UUID,
    data: schemas.ActivityUpdate,
    *,
    if_match: str | None = None,
) -> schemas.Activity:
    """Change an activity; `done: true` stamps `done_at` now (once), `false` clears it."""
    activity = await activity_row(session, ctx, activity_id)
    check_version(activity.version, expected_version(data.version, if_match))
    await _check_update(session, ctx, data)
    wanted: dict[str, Any] = {
        name: getattr(data, name)
        for name in ("kind", "subject", "assignee_id")
        if getattr(data, name) is not None
    }
    wanted.update(
        {name: getattr(data, name) for name in CLEARABLE if name in data.model_fields_set}
    )
    if data.done is not None and data.done != (activity.done_at is not None):
        wanted["done_at"] = utcnow() if data.done else None
    changed = [name for name, value in wanted.items() if value != getattr(activity, name)]
    for name in changed:
        setattr(activity, name, wanted[name])
    if changed:
        await session.flush()
        record(
            session,
            ctx,
            "crm.activity.updated",
            target_type="crm_activity",
            target_id=activity.id,
            changes=sorted(changed),
        )
    return view(activity)


def _filtered(
    ctx: RequestContext,
    *,
    contact_id: uuid.UUID | None = None,
    company_id: uuid.UUID | None = None,
    deal_id: uuid.UUID | None = None,
    assignee_id: uuid.UUID | None = None,
    state: str | None = None,
    due_before: dt.datetime | None = None,
) -> Select[Activity]:
    statement = select(Activity).where(_access(ctx))
    links = {
        Activity.contact_id: contact_id,
        Activity.company_id: company_id,
        Activity.deal_id: deal_id,
        Activity.assignee_id: assignee_id,
    }
    for column, value in links.items():
        if value is not None:
            statement = statement.where(column == value)
    if state == "open":
        statement = statement.where(Activity.done_at.is_(None))
    elif state == "done":
        statement = statement.where(Activity.done_at.is_not(None))
    if due_before is not None:
        statement = statement.where(Activity.due_at < due_before)
    return statement


async def list_activities(
    session: AsyncSession,
    ctx: RequestContext,
    *,
    contact_id: uuid.UUID | None = None,
    company_id: uuid.UUID | None = None,
    deal_id: uuid.UUID | None = None,
    assignee_id: uuid.UUID | None = None,
    state: str | None = None,
    due_before: dt.datetime | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> schemas.Page[schemas.Activity]:
    """Activities one may see, newest first; one query per page."""
    statement = _filtered(
        ctx,
        contact_id=contact_id,
        company_id=company_id,
        deal_id=deal_id,
        assignee_id=assignee_id,
        state=state,
        due_before=due_before,
    )
    page = await paginate(
        session,
        statement,
        sort=Activity.created_at,
        id_column=Activity.id,
        limit=limit,
        cursor=cursor,
        descending=True,
    )
    return schemas.Page(items=[view(a) for a in page.items], next_cursor=page.next_cursor)


async def my_open_tasks(
    session: AsyncSession, ctx: RequestContext, *, limit: int = 50, cursor: str | None = None
) -> schemas.Page[schemas.Activity]:
    """The caller's open activities, soonest due first, those without a due time last."""
    statement = select(Activity).where(
        Activity.assignee_id == ctx.user_id, Activity.done_at.is_(None)
    )
    page: Page[Activity] = await paginate_nulls_last(
        session,
        statement,
        order=NullsLast(Activity.due_at),
        id_column=Activity.id,
        limit=limit,
        cursor=cursor,
    )
    return schemas.Page(items=[view(a) for a in page.items], next_cursor=page.next_cursor)


# --- a contact's timeline ------------------------------------------------------------------


def _timeline_cursor(moment: dt.datetime, row_id: uuid.UUID) -> str:
    raw = json.dumps([moment.isoformat(), str(row_id)], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _read_timeline_cursor(cursor: str) -> tuple[dt.datetime, uuid.UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text, row_id = json.loads(base64.urlsafe_b64decode(padded))
        moment = dt.datetime.fromisoformat(text)
        if moment.tzinfo is None:
            raise ValueError("naive")
        return moment, uuid.UUID(row_id)
    except (ValueError, TypeError, KeyError, AttributeError, ArithmeticError):
        raise invalid("query.cursor", "The cursor is not one this API returned") from None


def _before(time: Any, row_id: Any, cursor: tuple[dt.datetime, uuid.UUID]) -> ColumnElement[bool]:
    moment, last_id = cursor
    return or_(time < moment, and_(time == moment, row_id < last_id))


def _entry(item: Activity | AuditEvent) -> schemas.TimelineEntry:
    if isinstance(item, Activity):
        return schemas.TimelineEntry(
            kind="activity", occurred_at=item.created_at, activity=view(item)
        )
    return schemas.TimelineEntry(
        kind="audit",
        occurred_at=item.occurred_at,
        audit=schemas.AuditEntry(
            id=item.id,
            action=item.action,
            actor_type=item.actor_type,
            actor_id=item.actor_id,
            changes=list(item.changes),
        ),
    )


def _moment(item: Activity | AuditEvent) -> tuple[dt.datetime, uuid.UUID]:
    return (item.created_at, item.id) if isinstance(item, Activity) else (item.occurred_at, item.id)


async def contact_timeline(
    session: AsyncSession,
    ctx: RequestContext,
    contact_id: uuid.UUID,
    *,
    limit: int = 50,
    cursor: str | None = None,
) -> schemas.Page[schemas.TimelineEntry]:
    """The contact's activities (those one may see) and audited changes, newest first: one
    page of each, merged (three queries whatever the page size)."""
    contact = await session.scalar(
        select(Contact).where(
            Contact.id == contact_id,
            Contact.deleted_at.is_(None),
            visible_to(ctx, Contact.owner_id.expression),
        )
    )
    if contact is None:
        raise ContactNotFound()
    after = _read_timeline_cursor(cursor) if cursor else None
    activities = select(Activity).where(Activity.contact_id == contact_id, _access(ctx))
    audits = select(AuditEvent).where(
        AuditEvent.tenant_id == tenant_of(ctx),
        AuditEvent.target_type == CONTACT_AUDIT_TARGET,
        AuditEvent.target_id == str(contact_id),
    )
    if after is not None:
        activities = activities.where(_before(Activity.created_at, Activity.id, after))
        audits = audits.where(_before(AuditEvent.occurred_at, AuditEvent.id, after))
    found: list[Activity | AuditEvent] = []
    found += (
        await session.scalars(
            activities.order_by(Activity.created_at.desc(), Activity.id.desc()).limit(limit + 1)
        )
    ).all()
    found += (
        await session.scalars(
            audits.order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc()).limit(limit + 1)
        )
    ).all()
    found.sort(key=_moment, reverse=True)
    page = found[:limit]
    next_cursor = _timeline_cursor(*_moment(page[-1])) if len(found) > limit else None
    return schemas.Page(items=[_entry(item) for item in page], next_cursor=next_cursor)


# --- activity types ------------------------------------------------------------------------
#
# The built-in kinds are not rows (every business has them, fixed); a business's own types
# (provisioned by its preset or added here) are `crm_activity_types` rows. Activities carry
# the key, so a key is fixed once made, and a type some activity carries cannot be deleted.

#: The built-in kinds' names, in the order lists show them.
BUILTIN_NAMES = {
    "call": "Call",
    "meeting": "Meeting",
    "task": "Task",
    "note": "Note",
    "email": "E-mail",
}


class ActivityTypeNotFound(NotFound):
    code, title = "activity_type_not_found", "No such activity type"


class ActivityTypeKeyTaken(Conflict):
    code, title = "activity_type_key_taken", "An activity type has this key"


class ActivityTypeInUse(Conflict):
    code, title = "activity_type_in_use", "Some activities have this type"


def _type_view(row: ActivityType) -> types_schemas.ActivityType:
    return types_schemas.ActivityType(id=row.id, key=row.key, name=row.name, builtin=False)


async def list_activity_types(
    session: AsyncSession, ctx: RequestContext
) -> types_schemas.Page[types_schemas.ActivityType]:
    """The built-in kinds, then the business's own by key (one query)."""
    rows = await session.scalars(select(ActivityType).order_by(ActivityType.key))
    builtin = [
        types_schemas.ActivityType(id=None, key=key, name=BUILTIN_NAMES.get(key, key), builtin=True)
        for key in BUILTIN_ACTIVITY_KINDS
    ]
    own = [_type_view(row) for row in rows]
    return types_schemas.Page(items=[*builtin, *own], next_cursor=None)


async def _activity_type(session: AsyncSession, type_id: uuid.UUID) -> ActivityType:
    row = await session.scalar(select(ActivityType).where(ActivityType.id == type_id))
    if row is None:
        raise ActivityTypeNotFound()
    return row


async def get_activity_type(
    session: AsyncSession, ctx: RequestContext, type_id: uuid.UUID
) -> types_schemas.ActivityType:
    row = await _activity_type(session, type_id)
    return _type_view(row)


async def create_activity_type(
    session: AsyncSession, ctx: RequestContext, data: types_schemas.ActivityTypeCreate
) -> types_schemas.ActivityType:
    """A new type; 409 `activity_type_key_taken` when the key is a built-in's or taken."""
    if data.key in BUILTIN_ACTIVITY_KINDS:
        raise ActivityTypeKeyTaken(
            detail=f"{data.key!r} is a built-in activity kind",
            errors=[FieldError("body.key", "A built-in kind has this key", "taken")],
        )
    taken = await session.scalar(select(ActivityType.id).where(ActivityType.key == data.key))
    if taken is not None:
        raise ActivityTypeKeyTaken(
            detail=f"The activity type {data.key!r} exists",
            errors=[FieldError("body.key", "This key is taken", "taken")],
            extra={"existing_id": str(taken)},
        )
    row = ActivityType(key=data.key, name=data.name)
    session.add(row)
    await session.flush()
    record(
        session,
        ctx,
        "crm.activity_type.created",
        target_type="crm_activity_type",
        target_id=row.id,
        changes=["key", "name"],
    )
    return _type_view(row)


async def update_activity_type(
    session: AsyncSession,
    ctx: RequestContext,
    type_id: uuid.UUID,
    data: types_schemas.ActivityTypeUpdate,
) -> types_schemas.ActivityType:
    """Rename a type (its key is fixed: activities carry it)."""
    row = await _activity_type(session, type_id)
    if data.name != row.name:
        row.name = data.name
        await session.flush()
        record(
            session,
            ctx,
            "crm.activity_type.updated",
            target_type="crm_activity_type",
            target_id=row.id,
            changes=["name"],
        )
    return _type_view(row)


async def delete_activity_type(
    session: AsyncSession, ctx: RequestContext, type_id: uuid.UUID
) -> None:
    """Delete a type no activity carries; 409 `activity_type_in_use` otherwise."""
    row = await _activity_type(session, type_id)
    used = await session.scalar(select(Activity.id).where(Activity.kind == row.key).limit(1))
    if used is not None:
        raise ActivityTypeInUse(detail=f"Some activities are of the kind {row.key!r}")
    await session.delete(row)
    await session.flush()
    record(
        session,
        ctx,
        "crm.activity_type.deleted",
        target_type="crm_activity_type",
        target_id=row.id,
        changes=["key", "name"],
    )
